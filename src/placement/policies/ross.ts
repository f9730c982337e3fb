import { mulberry32 } from "../../base/random.js";
import type { Choice, Decision, Observation, Policy, PolicyState } from "../policy.js";
import { breaksSafetyNet, remainingWorkMs } from "./slack.js";

/**
 * ROSS, the randomized online spot scheduler of Bhuyan, Bhatia, Kodialam and Lakshman, *Exploiting
 * Spot Instances for Time-Critical Cloud Workloads Using Optimal Randomized Strategies* (INFOCOM
 * 2026, arXiv 2601.14612). Deterministic policies are Ω(K)-competitive, K the on-demand to spot
 * price ratio, because an adversary that sees when a policy turns to on-demand can hand out spot
 * just after; ROSS hides that moment behind a coin flip and is √K-competitive for deadlines of at
 * least θ·work, θ = (1 + 2√K)/(1 + √K). Its phases, as the job's time left T and remaining work R
 * move:
 * 1. Warm-up, while T/R > θ: spot when there, otherwise wait (idling costs nothing yet).
 * 2. Injection, from the first moment T/R ≤ θ, for a window of R: a block of δ = R/(1 + √K) of
 *    on-demand, placed uniformly at random in the window; outside the block spot when there,
 *    otherwise wait. With no spot at all the window leaves exactly no slack, so the block is as
 *    much on-demand as the deadline can make unavoidable at that point.
 * 3. Catch-up, after the window: spot when there, otherwise wait.
 * The safety net over every phase (the paper's forced phase, made exact for ticks and restart
 * overheads, which its model leaves out): when waiting or starting a spot could leave less than
 * one restart overhead of slack at the next tick, on-demand until the end.
 *
 * Only the paper's abstract could be read here; the phases and constants above follow a public
 * re-implementation of its Algorithm 1. The one departure: that reading's "greedy" warm-up runs
 * on-demand when no spot is there; here the warm-up waits, as Can't Be Late's greedy does, since
 * slack above θ·R is exactly what needs no on-demand yet.
 *
 * The draw is seeded and its generator state kept in the policy state, so a job replays: the
 * controller and `spotrun simulate` take the same decisions from the same seed.
 */
export const DEFAULT_PRICE_RATIO = 3.06 / 0.92;

export const rossThreshold = (k: number): number => (1 + 2 * Math.sqrt(k)) / (1 + Math.sqrt(k));

/** Draws the injection window at `nowMs` for `remainingMs` of work; returns it with the generator moved on. */
function drawInjection(s: PolicyState, nowMs: number, remainingMs: number): PolicyState {
  const k = s.priceRatio ?? DEFAULT_PRICE_RATIO;
  const block = remainingMs / (1 + Math.sqrt(k));
  const r = mulberry32(s.random?.state ?? 1);
  const from = nowMs + r.value * (remainingMs - block);
  return {
    ...s,
    random: { seed: s.random?.seed ?? 1, state: r.state },
    injection: { untilMs: nowMs + remainingMs, onDemandFromMs: from, onDemandUntilMs: from + block },
  };
}

function preferred(o: Observation, s: PolicyState): { choice: Choice; rule: string; state: PolicyState } {
  const left = remainingWorkMs(o);
  const k = s.priceRatio ?? DEFAULT_PRICE_RATIO;
  let state = s;
  if (!state.injection) {
    if ((o.deadlineMs - o.nowMs) / left > rossThreshold(k))
      return o.spotAvailable ? { choice: "spot", rule: "warm-up-spot", state } : { choice: "idle", rule: "warm-up-wait", state };
    state = drawInjection(state, o.nowMs, left);
  }
  const w = state.injection as NonNullable<PolicyState["injection"]>;
  if (o.nowMs < w.untilMs) {
    if (o.spotAvailable) return { choice: "spot", rule: "injection-spot", state };
    if (o.nowMs >= w.onDemandFromMs && o.nowMs < w.onDemandUntilMs)
      return { choice: "on_demand", rule: "injection-on-demand", state };
    return { choice: "idle", rule: "injection-wait", state };
  }
  return o.spotAvailable ? { choice: "spot", rule: "catch-up-spot", state } : { choice: "idle", rule: "catch-up-wait", state };
}

export const rossPolicy: Policy = {
  name: "ross",
  summary: "randomized (seeded): wait for spot while slack is ample, then a randomly placed block of on-demand; safety net",
  decide(o: Observation, s: PolicyState): Decision {
    if (remainingWorkMs(o) <= 0) return { choice: "idle", state: s, rule: "done" };
    if (s.lockedOnDemand) return { choice: "on_demand", state: s, rule: "safety-net" };
    const p = preferred(o, s);
    if (p.choice !== "on_demand" && breaksSafetyNet(o, p.choice))
      return { choice: "on_demand", state: { ...p.state, lockedOnDemand: true }, rule: "safety-net" };
    return { choice: p.choice, state: p.state, rule: p.rule };
  },
};
