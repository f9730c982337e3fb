import { readFileSync } from "node:fs";

/** Spot availability per tick from a trace file (`{"metadata":{"gap_seconds":N},"data":[…]}`). */
export interface TraceAvailability {
  gapSeconds: number;
  length: number;
  availableAt(tick: number): boolean;
}

export function loadTraceAvailability(file: string): TraceAvailability {
  const raw = JSON.parse(readFileSync(file, "utf8")) as { metadata?: { gap_seconds?: number }; data?: number[] };
  const gap = raw.metadata?.gap_seconds;
  const data = raw.data;
  if (typeof gap !== "number" || gap <= 0 || !Array.isArray(data)) throw new Error(`${file}: not a spot availability trace`);
  return {
    gapSeconds: gap,
    length: data.length,
    // Past the end of the trace, capacity is as it was last seen.
    availableAt: (tick) => (data[Math.min(Math.max(tick, 0), data.length - 1)] ?? 0) > 0,
  };
}
