import { basename, extname } from "node:path";
import { shellQuote } from "../base/shell-quote.js";

/**
 * A task built from the command line instead of a file (`spotrun run train.py …` or
 * `spotrun run -- COMMAND ARGS…`): the current directory as the workdir, `checkpoints` as the
 * checkpoint dir, and `pip install -r requirements.txt` as setup when that file is there and no
 * setup was given. The flags then override its fields as they do a file's. Pure: the caller says
 * what the directory holds.
 */
export function quickTask(opts: {
  /** A script to run (`train.py`), relative to the workdir. */
  script?: string;
  /** Or a command and its arguments, each quoted for the shell. */
  command?: string[];
  setup?: string;
  hasRequirements: boolean;
}): Record<string, unknown> {
  const run = opts.script ? scriptCommand(opts.script) : (opts.command ?? []).map(shellQuote).join(" ");
  const setup = opts.setup ?? (opts.hasRequirements ? "pip install -r requirements.txt" : undefined);
  return {
    name: nameFrom(opts.script ?? opts.command?.find((w) => !w.includes("=")) ?? "job"),
    workdir: ".",
    ...(setup ? { setup } : {}),
    run,
    checkpoint: { dir: "checkpoints" },
  };
}

/** How a script is started: Python and shell scripts by their interpreter, anything else as a program. */
export function scriptCommand(script: string): string {
  const ext = extname(script).toLowerCase();
  if (ext === ".py") return `python3 ${shellQuote(script)}`;
  if (ext === ".sh") return `bash ${shellQuote(script)}`;
  return shellQuote(script.includes("/") ? script : `./${script}`);
}

/** A job name from a script or program: its base name without extension, in the characters a name may have. */
export function nameFrom(word: string): string {
  const base = basename(word, extname(word))
    .replace(/[^a-zA-Z0-9._-]+/g, "-")
    .replace(/^[^a-zA-Z0-9]+/, "")
    .slice(0, 63);
  return base || "job";
}

/** `ARGS…` after `--`, appended to a run command, each quoted so the shell passes it unchanged. */
export function withArgs(run: string, args: readonly string[]): string {
  return args.length ? `${run} ${args.map(shellQuote).join(" ")}` : run;
}
