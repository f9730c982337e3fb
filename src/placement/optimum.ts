import { usageError } from "../base/errors.js";
import type { Trace } from "../spec/availability-trace.js";
import type { CostModel } from "./simulator.js";

/**
 * The offline optimum (the paper's Omniscient policy): the least cost to finish `workMs` by the
 * deadline knowing the whole trace, under exactly the simulator's cost model. Dynamic programming
 * over ticks; the state at a tick start is what the job holds (nothing, or spot/on-demand with j
 * ticks of it behind, j capped once the setup is over) and the work done, counted in units of
 * gcd(tick, overhead, work) so every reachable amount of work is a whole number of units. Each
 * cell holds the least cost to reach it. Work is exact, so no policy can beat the answer.
 */
export interface OptimumInput {
  trace: Trace;
  workMs: number;
  deadlineMs: number;
  cost: CostModel;
  startOffsetMs?: number;
}

export interface OptimumResult {
  /** Undefined when not even on-demand from the first tick meets the deadline. */
  costUsd: number | undefined;
}

const HOUR = 3_600_000;
const MAX_CELLS = 4e9;

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

export function optimumCost(input: OptimumInput): OptimumResult {
  const tick = input.trace.tickMs;
  const d = input.cost.restartOverheadMs;
  const startTick = Math.floor((input.startOffsetMs ?? 0) / tick);
  const unit = [tick, d, input.workMs].filter((x) => x > 0).reduce(gcd);
  const W = Math.round(input.workMs / unit);
  const ticks = Math.min(Math.ceil(input.deadlineMs / tick), input.trace.available.length - startTick);
  /** Ticks after which an instance's setup is over: states j = 1..J per market, J meaning "running". */
  const J = Math.max(1, Math.ceil(d / tick));
  const states = 1 + 2 * J;
  if (states * W * ticks > MAX_CELLS)
    throw usageError(
      `the optimum would need ${(states * W * ticks).toExponential(1)} cells`,
      "use durations that are multiples of a larger common unit (e.g. whole minutes)",
    );
  const price = [input.cost.spotPricePerHour / HOUR, input.cost.onDemandPricePerHour / HOUR];
  // State index: 0 = none; 1 + m*J + (j-1) for market m (0 spot, 1 on-demand) with j ticks behind.
  const idx = (m: number, j: number) => 1 + m * J + (Math.min(j, J) - 1);
  const setupLeft = (j: number) => Math.max(0, d - j * tick);
  let cur = Array.from({ length: states }, () => new Float64Array(W).fill(Number.POSITIVE_INFINITY));
  let next = Array.from({ length: states }, () => new Float64Array(W).fill(Number.POSITIVE_INFINITY));
  (cur[0] as Float64Array)[0] = 0;
  let best = Number.POSITIVE_INFINITY;

  for (let k = 0; k < ticks; k++) {
    const nowMs = k * tick;
    const up = input.trace.available[startTick + k] === true;
    const hi = Math.min(W - 1, Math.floor(nowMs / unit));
    const lo = Math.max(0, W - Math.floor((input.deadlineMs - nowMs) / unit));
    // Everything this tick can write, and so everything the next one reads, lies in [lo, fillEnd).
    const fillEnd = Math.min(W, hi + 1 + Math.ceil(tick / unit));
    for (const a of next) a.fill(Number.POSITIVE_INFINITY, lo, fillEnd);
    /** Run market m for this tick from `from` (a state) with `setup` still to do, landing in state `to`. */
    const run = (from: Float64Array, m: number, setup: number, to: number) => {
      const spent = Math.min(setup, tick);
      const gain = (tick - spent) / unit;
      const p = price[m] as number;
      const tickCost = p * tick;
      const dst = next[to] as Float64Array;
      const finishFrom = Math.max(lo, W - gain);
      for (let w = lo; w < Math.min(hi + 1, finishFrom); w++) {
        const c = (from[w] as number) + tickCost;
        if (c < (dst[w + gain] as number)) dst[w + gain] = c;
      }
      for (let w = finishFrom; w <= hi; w++) {
        const c0 = from[w] as number;
        if (c0 === Number.POSITIVE_INFINITY) continue;
        const used = spent + (W - w) * unit;
        if (nowMs + used <= input.deadlineMs) best = Math.min(best, c0 + p * used);
      }
    };
    for (let s = 0; s < states; s++) {
      const from = cur[s] as Float64Array;
      const m = s === 0 ? -1 : Math.floor((s - 1) / J);
      const j = s === 0 ? 0 : ((s - 1) % J) + 1;
      const alive = m === 1 || (m === 0 && up);
      // Idle: stop whatever runs (free); a preempted spot lands here too.
      const idle = next[0] as Float64Array;
      for (let w = lo; w <= hi; w++) if ((from[w] as number) < (idle[w] as number)) idle[w] = from[w] as number;
      if (up) run(from, 0, m === 0 && alive ? setupLeft(j) : d, idx(0, m === 0 && alive ? j + 1 : 1));
      run(from, 1, m === 1 ? setupLeft(j) : d, idx(1, m === 1 ? j + 1 : 1));
    }
    [cur, next] = [next, cur];
  }
  return { costUsd: Number.isFinite(best) ? best : undefined };
}
