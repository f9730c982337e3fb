import { readFileSync } from "node:fs";
import { usageError } from "../../base/errors.js";

/** Spot availability per tick from a trace file (`{"metadata":{"gap_seconds":N},"data":[…]}`). */
export interface TraceAvailability {
  gapSeconds: number;
  length: number;
  availableAt(tick: number): boolean;
}

export function loadTraceAvailability(file: string): TraceAvailability {
  let raw: { metadata?: { gap_seconds?: number }; data?: number[] };
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw usageError(
      `market.trace: cannot read ${file} (${(e as Error).message})`,
      "give a trace file such as us-west-2a_v100_1.json",
    );
  }
  const gap = raw?.metadata?.gap_seconds;
  const data = raw?.data;
  if (typeof gap !== "number" || gap <= 0 || !Array.isArray(data) || data.length === 0)
    throw usageError(
      `market.trace: ${file} is not a spot availability trace`,
      'a trace is {"metadata": {"gap_seconds": N}, "data": [counts]}',
    );
  return {
    gapSeconds: gap,
    length: data.length,
    // Past the end of the trace, capacity is as it was last seen.
    availableAt: (tick) => (data[Math.min(Math.max(tick, 0), data.length - 1)] ?? 0) > 0,
  };
}

/** A trace replayed from `startedAt` (wall clock), `timeScale` trace seconds per second, from `traceStartMs` into it. */
export interface TraceReplay {
  file: string;
  timeScale: number;
  startedAt: number;
  /** Trace time skipped at the start; whole ticks. */
  traceStartMs: number;
}

export interface ReplayClock {
  /** Wall-clock length of one tick. */
  tickMs: number;
  /** The trace tick that replay tick 0 shows. */
  firstTraceTick: number;
  /** The replay tick at a wall-clock time. */
  tickAt(nowMs: number): number;
  /** Whether spot capacity is there at a replay tick. */
  availableAt(tick: number): boolean;
}

export function replayClock(replay: TraceReplay, avail: TraceAvailability = loadTraceAvailability(replay.file)): ReplayClock {
  const tickMs = (avail.gapSeconds * 1000) / replay.timeScale;
  const firstTraceTick = Math.floor(replay.traceStartMs / (avail.gapSeconds * 1000));
  return {
    tickMs,
    firstTraceTick,
    tickAt: (nowMs) => Math.floor((nowMs - replay.startedAt) / tickMs),
    availableAt: (tick) => avail.availableAt(firstTraceTick + tick),
  };
}
