import { readFileSync } from "node:fs";
import { usageError } from "../../base/errors.js";
import { parseTrace } from "../../spec/availability-trace.js";

/** Spot availability per tick of a trace file, as the local market replays it. */
export interface TraceAvailability {
  gapSeconds: number;
  length: number;
  availableAt(tick: number): boolean;
}

/** Read (synchronously: the instance host and the launch path need it at once) and validate a trace. */
export function loadTraceAvailability(file: string): TraceAvailability {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw usageError(
      `market.trace: cannot read ${file} (${(e as Error).message})`,
      "give a trace file such as us-west-2a_v100_1.json",
    );
  }
  const { tickMs, available } = parseTrace(doc, file);
  return {
    gapSeconds: tickMs / 1000,
    length: available.length,
    // Past the end of the trace, capacity is as it was last seen.
    availableAt: (tick) => available[Math.min(Math.max(tick, 0), available.length - 1)] === true,
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
