/**
 * The few error kinds that decide what a user sees and which exit code they get.
 * Errors are classified by type, never by message text.
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
  readonly code: string | undefined;
  constructor(kind: ErrorKind, what: string, opts: { fix?: string; code?: string; cause?: unknown } = {}) {
    super(what, { cause: opts.cause });
    this.name = "SpotrunError";
    this.kind = kind;
    this.fix = opts.fix;
    this.code = opts.code;
  }
  get exitCode(): ExitCode {
    return exitFor[this.kind];
  }
  /** The one line the CLI prints: `what — fix`. */
  oneLine(): string {
    const code = this.code ? ` [${this.code}]` : "";
    return this.fix ? `${this.message}${code} — ${this.fix}` : `${this.message}${code}`;
  }
}

export const usageError = (what: string, fix?: string, code?: string) =>
  new SpotrunError("usage", what, fix === undefined ? { code } : { fix, code });
export const notFound = (what: string, fix?: string) => new SpotrunError("not_found", what, fix === undefined ? {} : { fix });

export const errorMessage = (e: unknown): string => (e instanceof Error ? e.message : String(e));
