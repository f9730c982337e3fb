import type { Logger } from "../base/logger.js";
import type { CommandContext, CommandSpec, Output } from "../cli/command.js";

/** Nothing a tool call does may reach stdout: it is the protocol's channel. Notes go to stderr. */
const quietOutput: Output = {
  json: true,
  info: (m) => process.stderr.write(`${m}\n`),
  warn: (m) => process.stderr.write(`warning: ${m}\n`),
  line: () => {},
};

/**
 * A CLI command's handler run for a tool, for the operations whose logic still lives in a
 * command (offers, simulate, download, sessions, setup): the same data `--json` prints and the
 * same typed errors, with nothing written to stdout.
 */
export async function runCommandHandler(
  spec: CommandSpec,
  home: string,
  logger: Logger,
  args: string[],
  opts: Record<string, unknown>,
  signal: AbortSignal,
): Promise<unknown> {
  const ctx: CommandContext = { home, json: true, debug: false, out: quietOutput, logger, signal };
  const result = await spec.run(ctx, args, { ...opts, json: true });
  return result.data ?? {};
}
