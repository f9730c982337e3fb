import type { Choice, Observation } from "../policy.js";

/**
 * Slack = time to the deadline minus the work still to do. Running on an instance past its setup
 * keeps slack constant; idling or setting up an instance spends it. A job can always finish on
 * time by going on-demand while slack ≥ one restart overhead, so every decision keeps that true
 * at the next tick, whatever the market does in between (the paper's Safety Net Rule, made exact
 * for decisions taken every `stepMs` rather than continuously).
 */
export const remainingWorkMs = (o: Observation): number => Math.max(0, o.workTotalMs - o.workDoneMs);

export const slackMs = (o: Observation): number => o.deadlineMs - o.nowMs - remainingWorkMs(o);

/** Setup still ahead on the current instance; unknown launch time counts as a full overhead (the safe side). */
export function pendingOverheadMs(o: Observation): number {
  if (o.current === "none") return 0;
  if (o.currentSinceMs === undefined) return o.restartOverheadMs;
  return Math.max(0, o.restartOverheadMs - (o.nowMs - o.currentSinceMs));
}

/** The least slack left at the next decision if we take `choice` now (a spot may be preempted at any tick). */
export function worstSlackAfterMs(o: Observation, choice: Exclude<Choice, "on_demand">): number {
  const slack = slackMs(o);
  if (choice === "idle") return slack - o.stepMs;
  const setup = o.current === "spot" ? pendingOverheadMs(o) : o.restartOverheadMs;
  return slack - Math.min(setup, o.stepMs);
}

/** True when `choice` would leave too little slack to still reach the deadline on on-demand. */
export const breaksSafetyNet = (o: Observation, choice: Exclude<Choice, "on_demand">): boolean =>
  worstSlackAfterMs(o, choice) < o.restartOverheadMs;

/** A straight line of expected progress: from (atMs, workDoneMs) to (deadline, total work). */
export interface ProgressLine {
  atMs: number;
  workDoneMs: number;
}

/** Work the line expects done at `atMs`. */
export function expectedProgressMs(o: Observation, line: ProgressLine, atMs: number): number {
  const span = o.deadlineMs - line.atMs;
  if (span <= 0) return o.workTotalMs;
  const f = Math.min(1, Math.max(0, (atMs - line.atMs) / span));
  return line.workDoneMs + (o.workTotalMs - line.workDoneMs) * f;
}
