import type { Trace } from "../../../src/spec/availability-trace.js";

export const HOUR = 3_600_000;

/** A hand-made trace: `1` a tick with spot capacity, `0` without. */
export const traceOf = (name: string, pattern: string, tickMs = HOUR): Trace => ({
  name,
  tickMs,
  available: [...pattern].map((c) => c === "1"),
});
