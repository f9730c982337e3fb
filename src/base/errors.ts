/**
 * The few error kinds that decide what a user sees and which exit code they get.
 * Errors are classified by type, never by message text: the user's fault (a `SpotrunError`
 * saying what to do), retryable (a `SpotrunError` or an `ExternalError` that says trying again
 * may help), or a bug (anything else).
 */
export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
  notFound: 3,
  providerRefused: 4,
  interrupted: 5,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export type ErrorKind = "usage" | "not_found" | "provider_refused" | "failed" | "interrupted";

const exitFor: Record<ErrorKind, ExitCode> = {
  usage: ExitCode.usage,
  not_found: ExitCode.notFound,
  provider_refused: ExitCode.providerRefused,
  failed: ExitCode.failed,
  interrupted: ExitCode.interrupted,
};

/** An error meant for the user: `what` went wrong and `fix` says what to do. */
export class SpotrunError extends Error {
  readonly kind: ErrorKind;
  readonly fix: string | undefined;
  /** The code of the cause, where one exists (a provider's error code, an errno): shown as `[code]`. */
  readonly code: string | undefined;
  /** The same request may succeed later (throttling, an outage). */
  readonly retryable: boolean;
  /** The task field at fault (`resources.instance_type`), for a caller that knows which file or flag set it. */
  readonly field: string | undefined;
  constructor(
    kind: ErrorKind,
    what: string,
    opts: { fix?: string; code?: string; cause?: unknown; retryable?: boolean; field?: string } = {},
  ) {
    super(what, { cause: opts.cause });
    this.name = "SpotrunError";
    this.kind = kind;
    this.fix = opts.fix;
    this.code = opts.code;
    this.retryable = opts.retryable ?? false;
    this.field = opts.field;
  }
  get exitCode(): ExitCode {
    return exitFor[this.kind];
  }
  /** The same error, its message prefixed with where it happened (`task.yaml: resources.instance_type`). */
  within(where: string): SpotrunError {
    return new SpotrunError(this.kind, `${where}: ${this.message}`, {
      ...(this.fix !== undefined ? { fix: this.fix } : {}),
      ...(this.code !== undefined ? { code: this.code } : {}),
      cause: this.cause,
      retryable: this.retryable,
    });
  }
  /** The one line the CLI prints: `what — fix`. */
  oneLine(): string {
    const code = this.code ? ` [${this.code}]` : "";
    return this.fix ? `${this.message}${code} — ${this.fix}` : `${this.message}${code}`;
  }
}

/**
 * A failure reported by a system we call (a cloud API), with its own code and whether the same
 * call may succeed later. Providers' errors extend it.
 */
export class ExternalError extends Error {
  constructor(
    readonly system: string,
    readonly code: string,
    message: string,
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "ExternalError";
  }
}

export const usageError = (what: string, fix?: string, code?: string) =>
  new SpotrunError("usage", what, fix === undefined ? { code } : { fix, code });
export const notFound = (what: string, fix?: string) => new SpotrunError("not_found", what, fix === undefined ? {} : { fix });

/** Bad usage or input, or a thing that does not exist: fixed by the user, not by retrying. */
export const isUserError = (e: unknown): e is SpotrunError =>
  e instanceof SpotrunError && (e.kind === "usage" || e.kind === "not_found");
/** Trying the same thing again later may succeed. */
export const isRetryable = (e: unknown): boolean => (e instanceof SpotrunError || e instanceof ExternalError) && e.retryable;
/** Not one of ours: nothing classified it, so it is a bug to report. */
export const isBug = (e: unknown): boolean => !(e instanceof SpotrunError) && !(e instanceof ExternalError);

export const errorMessage = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * The stable codes of `--json` errors (and the MCP server's tool errors), one per kind of failure.
 * Scripts and agents branch on these; the message and the fix are for reading.
 */
export const ERROR_CODES = {
  usage: "bad usage or input: a flag, argument, command, task file or field (exit 2)",
  not_found: "no such job, session, instance or file (exit 3)",
  provider_refused: "a provider refused: capacity, quota or price (exit 4)",
  retryable: "a provider or service failed in a way that may pass: retry later (exit 1)",
  provider_error: "a provider or service failed and said why (exit 1)",
  failed: "the job or operation failed (exit 1)",
  interrupted: "interrupted by the user or a signal (exit 5)",
  internal: "a bug in spotrun: rerun with --debug and report it (exit 1)",
} as const;
export type ErrorCode = keyof typeof ERROR_CODES;

export interface ErrorReport {
  code: ErrorCode;
  message: string;
  fix: string;
  exit_code: ExitCode;
  retryable: boolean;
  /** The cause's own code, where one exists (`RequestLimitExceeded`, `ENOENT`). */
  cause_code?: string;
}

/** Control characters (a newline in a job id or a field name) would split the one line: show them escaped. */
export const oneLineText = (s: string): string =>
  // biome-ignore lint/suspicious/noControlCharactersInRegex: escaping them is the point
  s.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, (c) => JSON.stringify(c).slice(1, -1));

/** What any error means to the user: code, what went wrong, what to do, exit code. Pure. */
export function describeError(e: unknown): ErrorReport {
  if (e instanceof SpotrunError) {
    const code: ErrorCode = e.retryable ? "retryable" : e.kind;
    return {
      code,
      message: oneLineText(e.message),
      fix: oneLineText(e.fix ?? (e.retryable ? "retry in a minute" : defaultFix[e.kind])),
      exit_code: e.exitCode,
      retryable: e.retryable,
      ...(e.code ? { cause_code: oneLineText(e.code) } : {}),
    };
  }
  if (e instanceof ExternalError) {
    return {
      code: e.retryable ? "retryable" : "provider_error",
      message: oneLineText(e.message),
      fix: e.retryable
        ? `${e.system} is throttling or unavailable; retry in a minute`
        : `see ${e.system}'s message; rerun with --debug for the full response`,
      exit_code: ExitCode.failed,
      retryable: e.retryable,
      cause_code: oneLineText(e.code),
    };
  }
  return {
    code: "internal",
    message: oneLineText(errorMessage(e)),
    fix: "rerun with --debug for details, or report it as a bug",
    exit_code: ExitCode.failed,
    retryable: false,
  };
}

const defaultFix: Record<ErrorKind, string> = {
  usage: "see the command's --help",
  not_found: "check the name or id",
  provider_refused: "try other instance types, another region, on-demand, or a higher max price",
  failed: "rerun with --debug for details",
  interrupted: "run the command again to continue",
};

/** The one line the CLI prints for an error: `what [cause] — fix`. */
export function errorLine(r: ErrorReport): string {
  return `${r.message}${r.cause_code ? ` [${r.cause_code}]` : ""} — ${r.fix}`;
}
