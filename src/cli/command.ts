import type { Command } from "commander";
import type { Logger } from "../base/logger.js";

/**
 * Commands are declarative: a name, a summary, examples, options and a handler that returns
 * data. One wrapper (run-command.ts) renders tables or `--json`, maps errors to exit codes and
 * keeps data on stdout and progress on stderr. A definition module imports only what its options
 * need (commander, constants); its `run` imports the implementation (the store, the schemas, the
 * SDKs) when the command runs, so `--help`, `--version` and completion load none of them
 * (test/e2e/cli-lean.test.ts holds every command to that).
 */
export interface Output {
  readonly json: boolean;
  /** Progress and notes for a person: stderr, never stdout. */
  info(message: string): void;
  warn(message: string): void;
  /** One line of a stream (`logs --follow`, `agent watch`): a JSON object per line with --json. */
  line(human: string, value?: unknown): void;
}

export interface CommandContext {
  home: string;
  json: boolean;
  debug: boolean;
  out: Output;
  logger: Logger;
  /** The words after `--` on the command line (undefined without one): a program's own arguments. */
  rest?: string[];
  /** Aborted on Ctrl-C / SIGTERM. */
  signal: AbortSignal;
}

export interface CommandResult {
  /** What `--json` prints (exactly one document). */
  data?: unknown;
  /** What a person sees instead; defaults to nothing. */
  human?: string;
  exitCode?: number;
}

export interface CommandSpec {
  /** Commander syntax, e.g. `cancel <job>` or `session start <name>` (the first words form the path). */
  name: string;
  summary: string;
  examples: string[];
  /** Left out of `--help` (commands spotrun runs on instances itself). */
  hidden?: boolean;
  options?: (cmd: Command) => void;
  /** `args` are the positional arguments in order; `opts` the parsed options (camelCase). */
  run(ctx: CommandContext, args: string[], opts: Record<string, unknown>): Promise<CommandResult>;
}

/** A `run` whose implementation lives in a module of its own, imported only when the command runs. */
export const lazyRun =
  <M>(load: () => Promise<M>, pick: (m: M) => CommandSpec["run"]): CommandSpec["run"] =>
  async (ctx, args, opts) =>
    pick(await load())(ctx, args, opts);
