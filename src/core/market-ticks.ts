import type { Choice, Current, Observation } from "../placement/policy.js";
import type { TickedMarket } from "../providers/provider.js";
import type { AttemptRow } from "../state/state-store.js";
import type { ProgressMarks } from "./progress.js";

/**
 * The deadline policy on a market that moves in whole ticks (a replayed trace). The simulator's
 * model is exact there: the market changes only at a tick's start, one decision is taken per tick,
 * and time is counted in ticks. So the controller does the same: it decides once per tick, a
 * little after the tick starts (a reclaim has been issued by then), on what the market shows at
 * that tick, with its wall-clock measurements turned into market time and rounded to whole ticks.
 * Rounding is what makes a live job repeat `spotrun simulate` decision for decision: a process
 * start or an upload is a fraction of a tick late, never half of one.
 */

/** How far into a tick its decision is taken, as a fraction of the tick. */
export const DECISION_PHASE = 0.2;

export const tickStartOf = (m: TickedMarket, tick: number): number => m.epochMs + tick * m.tickMs;
export const tickOf = (m: TickedMarket, wallMs: number): number => Math.floor((wallMs - m.epochMs) / m.tickMs);
export const decisionPointOf = (m: TickedMarket, tick: number): number => m.epochMs + (tick + DECISION_PHASE) * m.tickMs;
/** The latest tick whose decision point is not in the future. */
export const decidedTickAt = (m: TickedMarket, nowMs: number): number =>
  Math.floor((nowMs - m.epochMs) / m.tickMs - DECISION_PHASE);
/** A job's first tick: the first decision point at or after its submission. */
export const firstTickOf = (m: TickedMarket, submittedAtMs: number): number =>
  Math.max(0, Math.ceil((submittedAtMs - m.epochMs) / m.tickMs - DECISION_PHASE));

/** A wall-clock span in market time. */
export const inMarketTime = (m: TickedMarket, wallMs: number): number => Math.round((wallMs * m.marketTickMs) / m.tickMs);
/** A measured wall-clock span in market time, to the nearest whole tick. */
export const inWholeTicks = (m: TickedMarket, wallMs: number): number => Math.round(wallMs / m.tickMs) * m.marketTickMs;

/**
 * Work done by the start of `tick`, wall-clock: each ended attempt from its run's start to its last
 * checkpoint, but not past the start of the tick it ended in (the simulator keeps a reclaimed
 * spot's work up to the reclaim, and a changeover stops the old instance the moment the new one
 * is chosen); a live attempt up to the tick's start.
 */
export function workDoneByTick(m: TickedMarket, attempts: AttemptRow[], marks: ProgressMarks, tick: number): number {
  const at = tickStartOf(m, tick);
  let done = 0;
  for (const a of attempts) {
    const from = marks.runStarted.get(a.idx);
    if (from === undefined) continue;
    let to = at;
    if (a.state === "ENDED" && a.ended_at !== null) {
      const saved = a.end_kind === "succeeded" ? a.ended_at : (marks.lastCheckpoint.get(a.idx) ?? from);
      to = Math.min(at, tickStartOf(m, tickOf(m, a.ended_at)), saved);
    }
    done += Math.max(0, to - from);
  }
  return done;
}

export interface TickInputs {
  tick: number;
  firstTick: number;
  /** Wall-clock spans from the job's first tick. */
  deadlineAfterMs: number;
  workMs: number;
  workDoneMs: number;
  restartOverheadMs: number;
  /** The job's live attempt, if any. */
  live?: { spot: boolean; startedAt: number };
}

/** What the policy sees at a tick, in market time from the job's first tick (the simulator's frame). */
export function tickObservation(m: TickedMarket, i: TickInputs): Observation & { reclaimed: boolean } {
  const T = m.marketTickMs;
  const workTotalMs = inMarketTime(m, i.workMs);
  const open = m.spotAvailableAt(i.tick);
  // A spot the market no longer shows is being reclaimed: its notice is out, whatever the agent has said yet.
  const reclaimed = i.live?.spot === true && !open;
  const current: Current = !i.live || reclaimed ? "none" : i.live.spot ? "spot" : "on_demand";
  return {
    nowMs: (i.tick - i.firstTick) * T,
    startMs: 0,
    deadlineMs: inMarketTime(m, i.deadlineAfterMs),
    workTotalMs,
    // The run's own exit says when the work is done; until then at least a tick is left.
    workDoneMs: Math.max(0, Math.min(inWholeTicks(m, i.workDoneMs), workTotalMs - T)),
    restartOverheadMs: inWholeTicks(m, i.restartOverheadMs),
    spotAvailable: current === "spot" || open,
    current,
    ...(i.live && current !== "none" ? { currentSinceMs: (tickOf(m, i.live.startedAt) - i.firstTick) * T } : {}),
    stepMs: T,
    reclaimed,
  };
}

/** The decision kept for a tick, next to the policy's state in the job's row. */
export interface TickDecision {
  tick: number;
  choice: Choice;
  rule: string;
}
