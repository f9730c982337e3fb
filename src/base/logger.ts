import { type Logger, pino } from "pino";

export type { Logger };

/** Structured logs go to stderr so stdout stays for data (`--json`). */
export function createLogger(opts: { level?: string; name?: string } = {}): Logger {
  return pino(
    { name: opts.name ?? "spotrun", level: opts.level ?? process.env.SPOTRUN_LOG_LEVEL ?? "warn", base: undefined },
    pino.destination({ fd: 2, sync: true }),
  );
}

export const silentLogger: Logger = pino({ level: "silent" });
