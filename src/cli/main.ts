import type { Command, CommanderError } from "commander";
import { ExitCode, type SpotrunError, usageError } from "../base/errors.js";
import { buildProgram } from "./program.js";
import { reportError } from "./run-command.js";

export async function main(argv: string[]): Promise<void> {
  const flags = argv.slice(2, argv.includes("--") ? argv.indexOf("--") : undefined);
  const json = flags.includes("--json");
  const debug = flags.includes("--debug");
  const program = buildProgram(argv, { json });
  catchUsageErrors(program, []);
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderUsage && !e.error) process.exitCode = ExitCode.ok;
    else process.exitCode = reportError(e instanceof CommanderUsage ? e.error : e, { debug, json });
  }
}

/** Commander's exit turned into ours, thrown out of parseAsync (an exit override must throw): a usage error, or none after help/--version. */
class CommanderUsage extends Error {
  constructor(readonly error: SpotrunError | undefined) {
    super(error?.message ?? "help shown");
  }
}

/**
 * Every command (and group) throws its parse errors as a usage error that names it, so the fix can
 * point at its --help. Help and --version are not errors.
 */
function catchUsageErrors(cmd: Command, path: string[]): void {
  const name = ["spotrun", ...path].join(" ");
  cmd.exitOverride((err: CommanderError) => {
    if (
      err.code === "commander.helpDisplayed" ||
      err.code === "commander.version" ||
      (err.code === "commander.help" && err.exitCode === 0)
    ) {
      throw new CommanderUsage(undefined);
    }
    throw new CommanderUsage(usageFromCommander(err, name));
  });
  for (const sub of cmd.commands) catchUsageErrors(sub, [...path, sub.name()]);
}

/**
 * `spotrun` or a group (`spotrun session`) without a command prints its help (on stderr, so stdout
 * holds nothing) and exits 2: a script that ran no command did not get what it asked for, and a
 * zero would hide an empty variable in `spotrun $CMD`.
 */
function usageFromCommander(err: CommanderError, name: string): SpotrunError {
  if (err.code === "commander.help")
    return usageError(
      name === "spotrun" ? "no command given" : `\`${name}\` needs a command`,
      `pick one (\`${name} --help\` lists them)`,
    );
  const [first = "", ...rest] = err.message.replace(/^error: /, "").split("\n");
  const suggestion = /^\(Did you mean (.+)\?\)$/.exec(rest.join(" ").trim())?.[1];
  const what = first.replace(/\.$/, "");
  return usageError(what, suggestion ? `did you mean ${suggestion}? (see \`${name} --help\`)` : `see \`${name} --help\``);
}
