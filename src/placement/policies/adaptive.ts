import type { Choice, Decision, Observation, Policy, PolicyState } from "../policy.js";
import { DEFAULT_PRICE_RATIO } from "./ross.js";
import { breaksSafetyNet, expectedProgressMs, type ProgressLine, remainingWorkMs, slackMs } from "./slack.js";
import { LINE_FROM_JOB_FRACTION } from "./uniform-progress.js";

/**
 * Adaptive (spotrun's own): uniform progress that learns, from the ticks it has seen, how long this
 * market's runs of spot capacity (and of none) last, and spends restart overheads only where they
 * are likely to pay back. On the traces, uniform progress loses to the optimum mostly through
 * changeovers: with a 2d hysteresis it leaves on-demand after every 2d of progress and pays a
 * restart to come back; it jumps from on-demand onto spot blips shorter than a restart; and with a
 * tight deadline it goes on-demand for down-times that end within minutes. The rules, in order:
 * 1. Exploitation: on a spot that is still there, stay.
 * 2. Take a spot from idle when its expected remaining life (the mean residual of the runs seen so
 *    far that outlived its current age, with a prior of one 1 h run) is at least one overhead. From
 *    on-demand, take it when the switch is expected to pay, averaged over those same runs (not
 *    over their mean: a run shorter than a restart does no work at all): a spot that lives l saves
 *    (K−1)·l against on-demand (K the on-demand ÷ spot price) and leaves the job behind by the
 *    work it did not do — 2d (its setup and the on-demand setup when it ends), or l + d when it
 *    ends inside its setup — which costs K per hour to make up. With runs all longer than a
 *    restart the bar is 2Kd/(K−1); each run that ends inside its setup raises it.
 * 3. Wait for spot, off on-demand, while the expected rest of the current down-time plus the
 *    overhead of the spot start that ends it fits in the slack above a reserve for future restarts:
 *    one overhead per expected preemption — per mean spot run in the part of the work left that
 *    spot will do, taken as the share of the time seen that spot was there — at least two. The
 *    rest of a down-time is the mean residual over the down-runs seen that outlived its age, with
 *    a prior run of max(2 h, its age): a down-time longer than any seen is expected to last about
 *    as long again (a fixed prior would keep promising spot within 2 h after a day without).
 * 4. Hold on-demand, once on it without spot, until progress is ahead of the line by 8 h of it
 *    (uniform progress holds 2d), so a run of no spot costs one changeover, not one per 2d.
 * 5. Behind the line (drawn as uniform progress draws it) → on-demand; otherwise idle.
 * The safety net over all of them: on-demand until the end once idling or a spot start could leave
 * less than one overhead of slack at the next tick.
 */
export interface MarketMemory {
  /** Whether spot capacity was there at the last tick, and since when. */
  up: boolean;
  sinceMs: number;
  /** The lengths of the last runs seen to end, with capacity and without. */
  upRunsMs: number[];
  downRunsMs: number[];
}

const HOUR = 3_600_000;
const KEEP_RUNS = 64;
/** The prior: one run of this length, up or down, counted with the runs seen. */
const PRIOR_RUN_MS = HOUR;
/** The least the prior down-run promises (a down-time's prior is max(this, its age)). */
const PRIOR_DOWN_MS = 2 * HOUR;
const HOLD_ON_DEMAND_MS = 8 * HOUR;

export function remember(m: MarketMemory | undefined, o: Observation): MarketMemory {
  const up = o.spotAvailable;
  if (!m) return { up, sinceMs: o.nowMs, upRunsMs: [], downRunsMs: [] };
  if (m.up === up) return m;
  const ended = o.nowMs - m.sinceMs;
  return m.up
    ? { ...m, up, sinceMs: o.nowMs, upRunsMs: [...m.upRunsMs, ended].slice(-KEEP_RUNS) }
    : { ...m, up, sinceMs: o.nowMs, downRunsMs: [...m.downRunsMs, ended].slice(-KEEP_RUNS) };
}

/** Mean residual life of a run of age `ageMs`, from the runs seen to end that outlived it and one prior run. */
export function residualMs(runs: readonly number[], ageMs: number, priorMs = PRIOR_RUN_MS): number {
  let sum = priorMs;
  let n = 1;
  for (const x of runs)
    if (x > ageMs) {
      sum += x - ageMs;
      n++;
    }
  return sum / n;
}

/** The expected rest of a down-time of age `ageMs`: its prior run lasts at least as long again. */
export const downResidualMs = (runs: readonly number[], ageMs: number): number =>
  residualMs(runs, ageMs, Math.max(PRIOR_DOWN_MS, ageMs));

/**
 * The expected gain, in spot-price hours, of leaving a running on-demand for a spot of age
 * `ageMs`: the mean over the up-runs seen that outlived that age (and the prior run) of
 * (K−1)·l − K·lag, l the run's rest and lag the work the switch leaves undone: 2d when the spot
 * outlives its setup, l + d when it ends inside it.
 */
export function switchGainMs(runs: readonly number[], ageMs: number, d: number, k: number): number {
  const gain = (l: number) => (k - 1) * l - k * (l >= d ? 2 * d : l + d);
  let sum = gain(PRIOR_RUN_MS);
  let n = 1;
  for (const x of runs)
    if (x > ageMs) {
      sum += gain(x - ageMs);
      n++;
    }
  return sum / n;
}

const meanMs = (runs: readonly number[]) => (PRIOR_RUN_MS + runs.reduce((a, x) => a + x, 0)) / (1 + runs.length);

/** The share of the time seen (ended runs, one prior run each way) that spot capacity was there. */
export function spotShare(m: MarketMemory): number {
  const up = PRIOR_RUN_MS + m.upRunsMs.reduce((a, x) => a + x, 0);
  return up / (up + PRIOR_RUN_MS + m.downRunsMs.reduce((a, x) => a + x, 0));
}

function preferred(o: Observation, k: number, line: ProgressLine | undefined, m: MarketMemory): { choice: Choice; rule: string } {
  const d = o.restartOverheadMs;
  const age = o.nowMs - m.sinceMs;
  if (o.current === "spot" && o.spotAvailable) return { choice: "spot", rule: "exploit-spot" };
  if (
    o.spotAvailable &&
    (o.current === "on_demand" ? switchGainMs(m.upRunsMs, age, d, k) >= 0 : residualMs(m.upRunsMs, age) >= d)
  )
    return { choice: "spot", rule: "take-spot" };
  if (!line) return { choice: "idle", rule: "loose-deadline-wait" };
  if (o.current !== "on_demand" && !o.spotAvailable) {
    // Slack kept for the restarts still ahead: the work left that spot will do (its share of the
    // time seen) ends in one preemption per mean spot run, each costing an overhead; at least two.
    const reserve = d * Math.max(2, (spotShare(m) * remainingWorkMs(o)) / meanMs(m.upRunsMs));
    if (downResidualMs(m.downRunsMs, age) + d <= slackMs(o) - reserve) return { choice: "idle", rule: "wait-for-spot" };
  }
  if (o.current === "on_demand" && o.workDoneMs < expectedProgressMs(o, line, o.nowMs + HOLD_ON_DEMAND_MS))
    return { choice: "on_demand", rule: "hold-on-demand" };
  if (o.workDoneMs < expectedProgressMs(o, line, o.nowMs)) return { choice: "on_demand", rule: "behind-line" };
  return { choice: "idle", rule: "ahead-of-line" };
}

/** The line, drawn as uniform progress draws it: once the job fraction C(t)/R(t) first reaches 70 %. */
function lineFor(o: Observation, s: PolicyState): ProgressLine | undefined {
  if (s.line) return s.line;
  const left = o.deadlineMs - o.nowMs;
  if (left <= 0 || remainingWorkMs(o) / left >= LINE_FROM_JOB_FRACTION) return { atMs: o.nowMs, workDoneMs: o.workDoneMs };
  return undefined;
}

export const adaptivePolicy: Policy = {
  name: "adaptive",
  summary: "uniform progress that learns the market's run lengths and spends restarts only where they pay back; safety net",
  decide(o: Observation, s: PolicyState): Decision {
    if (remainingWorkMs(o) <= 0) return { choice: "idle", state: s, rule: "done" };
    const market = remember(s.market, o);
    if (s.lockedOnDemand) return { choice: "on_demand", state: { ...s, market }, rule: "safety-net" };
    const line = lineFor(o, s);
    const state: PolicyState = { ...s, market, ...(line ? { line } : {}) };
    const p = preferred(o, s.priceRatio ?? DEFAULT_PRICE_RATIO, line, market);
    if (p.choice !== "on_demand" && breaksSafetyNet(o, p.choice))
      return { choice: "on_demand", state: { ...state, lockedOnDemand: true }, rule: "safety-net" };
    return { choice: p.choice, state, rule: p.rule };
  },
};
