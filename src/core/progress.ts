import type { AttemptRow, EventRow } from "../state/state-store.js";

/**
 * A job's progress as the deadline policy needs it, measured from its event log. When the trainer
 * records its progress fraction with its checkpoints ($SPOT_PROGRESS_FILE), the newest one is the
 * truth, plus the time running since. Otherwise each ended attempt kept the work up to its last
 * checkpoint and the running attempt is progressing since its run started (an optimistic estimate:
 * it counts start-up as work). The restart overhead is how long attempts took from launch to a
 * running user process.
 */
export interface MeasuredProgress {
  workDoneMs: number;
  restartOverheadMs: number;
  /** Attempts the overhead was measured on; 0 means the assumed value was used. */
  samples: number;
}

/** What the event log says about each attempt's run: when it started, when it last saved. */
export interface ProgressMarks {
  runStarted: Map<number, number>;
  lastCheckpoint: Map<number, number>;
  /** The newest progress fraction the trainer reported with a checkpoint. */
  reported?: { attempt: number; at: number; fraction: number };
}

/** The only events progress is measured from (the store reads just these). */
export const PROGRESS_EVENT_KINDS = ["run_started", "checkpoint_uploaded"] as const;

export function progressMarks(events: EventRow[]): ProgressMarks {
  const marks: ProgressMarks = { runStarted: new Map(), lastCheckpoint: new Map() };
  for (const e of events) {
    if (e.kind !== "run_started" && e.kind !== "checkpoint_uploaded") continue;
    const data = JSON.parse(e.data) as { attempt?: number; progress?: number };
    if (data.attempt === undefined) continue;
    if (e.kind === "run_started" && !marks.runStarted.has(data.attempt)) marks.runStarted.set(data.attempt, Number(e.at));
    if (e.kind === "checkpoint_uploaded") {
      marks.lastCheckpoint.set(data.attempt, Number(e.at));
      if (data.progress !== undefined) marks.reported = { attempt: data.attempt, at: Number(e.at), fraction: data.progress };
    }
  }
  return marks;
}

/** Mean time from an attempt's launch to its user process running; `assumedMs` before any ran. */
export function restartOverhead(
  attempts: AttemptRow[],
  marks: ProgressMarks,
  assumedMs: number,
): { ms: number; samples: number } {
  const overheads = attempts.flatMap((a) => {
    const started = marks.runStarted.get(a.idx);
    return started === undefined ? [] : [Math.max(0, started - a.started_at)];
  });
  if (overheads.length === 0) return { ms: assumedMs, samples: 0 };
  return { ms: overheads.reduce((x, y) => x + y, 0) / overheads.length, samples: overheads.length };
}

export function measureProgress(
  attempts: AttemptRow[],
  events: EventRow[],
  now: number,
  assumedOverheadMs: number,
  workTotalMs?: number,
): MeasuredProgress {
  const marks = progressMarks(events);
  let done = 0;
  for (const a of attempts) {
    const started = marks.runStarted.get(a.idx);
    if (started === undefined) continue;
    if (a.state !== "ENDED") done += Math.max(0, now - started);
    else if (a.end_kind === "succeeded") done += Math.max(0, (a.ended_at ?? now) - started);
    else done += Math.max(0, (marks.lastCheckpoint.get(a.idx) ?? started) - started);
  }
  const overhead = restartOverhead(attempts, marks, assumedOverheadMs);
  const reported = marks.reported;
  if (reported && workTotalMs !== undefined) {
    const current = attempts.at(-1);
    const running = current && current.state !== "ENDED" ? marks.runStarted.get(current.idx) : undefined;
    const since = running === undefined ? 0 : Math.max(0, now - (reported.attempt === current?.idx ? reported.at : running));
    return { workDoneMs: reported.fraction * workTotalMs + since, restartOverheadMs: overhead.ms, samples: overhead.samples };
  }
  return { workDoneMs: done, restartOverheadMs: overhead.ms, samples: overhead.samples };
}
