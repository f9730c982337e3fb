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

export function measureProgress(
  attempts: AttemptRow[],
  events: EventRow[],
  now: number,
  assumedOverheadMs: number,
  workTotalMs?: number,
): MeasuredProgress {
  const runStarted = new Map<number, number>();
  const lastCheckpoint = new Map<number, number>();
  let reported: { attempt: number; at: number; fraction: number } | undefined;
  for (const e of events) {
    if (e.kind !== "run_started" && e.kind !== "checkpoint_uploaded") continue;
    const attempt = (JSON.parse(e.data) as { attempt?: number }).attempt;
    if (attempt === undefined) continue;
    if (e.kind === "run_started" && !runStarted.has(attempt)) runStarted.set(attempt, Number(e.at));
    if (e.kind === "checkpoint_uploaded") {
      lastCheckpoint.set(attempt, Number(e.at));
      const fraction = (JSON.parse(e.data) as { progress?: number }).progress;
      if (fraction !== undefined) reported = { attempt, at: Number(e.at), fraction };
    }
  }
  let done = 0;
  const overheads: number[] = [];
  for (const a of attempts) {
    const started = runStarted.get(a.idx);
    if (started === undefined) continue;
    overheads.push(Math.max(0, started - a.started_at));
    if (a.state !== "ENDED") done += Math.max(0, now - started);
    else if (a.end_kind === "succeeded") done += Math.max(0, (a.ended_at ?? now) - started);
    else done += Math.max(0, (lastCheckpoint.get(a.idx) ?? started) - started);
  }
  const restartOverheadMs = overheads.length ? overheads.reduce((x, y) => x + y, 0) / overheads.length : assumedOverheadMs;
  if (reported && workTotalMs !== undefined) {
    const current = attempts.at(-1);
    const running = current && current.state !== "ENDED" ? runStarted.get(current.idx) : undefined;
    const since = running === undefined ? 0 : Math.max(0, now - (reported.attempt === current?.idx ? reported.at : running));
    return { workDoneMs: reported.fraction * workTotalMs + since, restartOverheadMs, samples: overheads.length };
  }
  return { workDoneMs: done, restartOverheadMs, samples: overheads.length };
}
