import { type Command, Option } from "commander";
import { describeError, ExitCode, errorLine, SpotrunError } from "../base/errors.js";
import type { CommandContext, CommandSpec } from "./command.js";
import { resolveHome } from "./home.js";
import { createOutput } from "./output.js";

const EXIT_HELP = `
Exit codes:
  0  success            3  not found
  1  the job or operation failed   4  a provider refused (capacity, quota, price)
  2  bad usage or input  5  interrupted by the user`;

/**
 * The one wrapper every command goes through: global flags, context, rendering of data as a
 * table or `--json`, mapping of errors to one line and an exit code (a stack only with --debug).
 */
export function mount(program: Command, spec: CommandSpec, argv: readonly string[] = []): void {
  const words = spec.name.split(" ");
  let parent = program;
  const path = words.filter((w) => !w.startsWith("<") && !w.startsWith("["));
  const argsSyntax = words.slice(path.length).join(" ");
  for (const w of path.slice(0, -1)) {
    parent = parent.commands.find((c) => c.name() === w) ?? parent.command(w).description(`${w} commands`);
  }
  const cmd = parent
    .command(`${path[path.length - 1]}${argsSyntax ? ` ${argsSyntax}` : ""}`, { hidden: spec.hidden ?? false })
    .description(spec.summary);
  spec.options?.(cmd);
  cmd.addHelpText("after", `\nExamples:\n${spec.examples.map((e) => `  $ ${e}`).join("\n")}\n${EXIT_HELP}`);
  cmd.action(async (...raw: unknown[]) => {
    const command = raw[raw.length - 1] as Command;
    const opts = command.opts() as Record<string, unknown>;
    const globals = command.optsWithGlobals() as { json?: boolean; debug?: boolean; home?: string };
    const args = (raw.slice(0, -2) as (string | string[] | undefined)[]).flatMap((a) =>
      a === undefined ? [] : Array.isArray(a) ? a : [a],
    );
    const json = Boolean(globals.json);
    const debug = Boolean(globals.debug);
    const abort = new AbortController();
    // pino is imported when a command runs, not when the command table is built for --help.
    const { createLogger } = await import("../base/logger.js");
    const dashes = argv.indexOf("--");
    const ctx: CommandContext = {
      ...(dashes >= 0 ? { rest: argv.slice(dashes + 1) } : {}),
      home: resolveHome(globals.home),
      json,
      debug,
      out: createOutput(json),
      logger: createLogger({ level: debug ? "debug" : (process.env.SPOTRUN_LOG_LEVEL ?? "warn") }),
      signal: abort.signal,
    };
    const onSignal = () => abort.abort(new SpotrunError("interrupted", "interrupted"));
    process.once("SIGTERM", onSignal);
    try {
      const result = await spec.run(ctx, args, { ...opts, ...globals });
      if (json && result.data !== undefined) process.stdout.write(`${JSON.stringify(result.data)}\n`);
      else if (!json && result.human) process.stdout.write(result.human.endsWith("\n") ? result.human : `${result.human}\n`);
      process.exitCode = result.exitCode ?? ExitCode.ok;
    } catch (e) {
      process.exitCode = reportError(e, { debug, json });
    } finally {
      process.off("SIGTERM", onSignal);
    }
  });
}

/**
 * The one way a failure reaches the user: one line `spotrun: what — fix` on stderr, or with --json
 * one object `{"error": {code, message, fix, exit_code}}` on stderr and nothing on stdout. A stack
 * only with --debug. Returns the exit code.
 */
export function reportError(e: unknown, opts: { debug: boolean; json: boolean }): number {
  const report = describeError(e);
  if (opts.json) process.stderr.write(`${JSON.stringify({ error: report })}\n`);
  else process.stderr.write(`spotrun: ${errorLine(report)}\n`);
  if (opts.debug) {
    const stack = e instanceof SpotrunError ? (e.cause as Error | undefined)?.stack : (e as Error | undefined)?.stack;
    if (stack) process.stderr.write(`${stack}\n`);
  }
  return report.exit_code;
}

export function globalOptions(program: Command): Command {
  return program
    .addOption(new Option("--json", "print exactly one JSON document on stdout (streams: one object per line)"))
    .addOption(new Option("--debug", "verbose logs and stack traces"))
    .addOption(new Option("--home <dir>", "state directory (default $SPOTRUN_HOME or ~/.spotrun)"));
}
