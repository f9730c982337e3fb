import assert from "node:assert/strict";
import { test } from "node:test";
import { seededRandom } from "../../../src/base/random.js";
import { optimumCost } from "../../../src/placement/optimum.js";
import type { CostModel } from "../../../src/placement/simulator.js";
import type { Trace } from "../../../src/spec/availability-trace.js";

const MIN = 60_000;
type Choice = "idle" | "spot" | "od";

/**
 * The cost model written out once more, plainly, for one fixed schedule: a new instance (or a
 * spot lost to the market) pays the overhead again; the last tick is billed to the finish.
 */
function scheduleCost(trace: Trace, plan: Choice[], workMs: number, deadlineMs: number, c: CostModel): number | undefined {
  let cur: Choice = "idle";
  let setupLeft = 0;
  let done = 0;
  let cost = 0;
  for (let k = 0; k < plan.length; k++) {
    const up = trace.available[k] === true;
    if (cur === "spot" && !up) cur = "idle";
    const want = plan[k] as Choice;
    if (want === "spot" && !up) return undefined;
    if (want !== cur && want !== "idle") setupLeft = c.restartOverheadMs;
    cur = want;
    if (cur === "idle") continue;
    const setup = Math.min(setupLeft, trace.tickMs);
    setupLeft -= setup;
    const progress = Math.min(trace.tickMs - setup, workMs - done);
    done += progress;
    cost += ((cur === "spot" ? c.spotPricePerHour : c.onDemandPricePerHour) * (setup + progress)) / 3_600_000;
    if (done >= workMs) return k * trace.tickMs + setup + progress <= deadlineMs ? cost : undefined;
  }
  return undefined;
}

function bruteForce(trace: Trace, ticks: number, workMs: number, deadlineMs: number, c: CostModel): number | undefined {
  let best: number | undefined;
  const plan: Choice[] = [];
  const walk = () => {
    if (plan.length === ticks) {
      const cost = scheduleCost(trace, plan, workMs, deadlineMs, c);
      if (cost !== undefined && (best === undefined || cost < best)) best = cost;
      return;
    }
    for (const ch of ["idle", "spot", "od"] as const) {
      plan.push(ch);
      walk();
      plan.pop();
    }
  };
  walk();
  return best;
}

test("the DP optimum equals the cheapest of all schedules on small random markets", () => {
  const rand = seededRandom(7);
  let feasible = 0;
  for (let i = 0; i < 60; i++) {
    const tickMs = 10 * MIN;
    const ticks = 7;
    const trace: Trace = { name: `b${i}`, tickMs, available: Array.from({ length: ticks }, () => rand() < 0.6) };
    const c = { spotPricePerHour: 1, onDemandPricePerHour: 3, restartOverheadMs: ([5, 10, 15, 25][i % 4] as number) * MIN };
    const workMs = (20 + 5 * Math.floor(rand() * 6)) * MIN;
    const deadlineMs = ticks * tickMs - 5 * MIN * Math.floor(rand() * 3);
    const expected = bruteForce(trace, ticks, workMs, deadlineMs, c);
    if (expected !== undefined) feasible++;
    const got = optimumCost({ trace, workMs, deadlineMs, cost: c }).costUsd;
    const what = `case ${i}: ${trace.available.map(Number).join("")}, d ${c.restartOverheadMs / MIN}m, work ${workMs / MIN}m, deadline ${deadlineMs / MIN}m`;
    if (expected === undefined) assert.equal(got, undefined, what);
    else assert.ok(got !== undefined && Math.abs(got - expected) < 1e-9, `${what}: DP ${got} vs brute force ${expected}`);
  }
  assert.ok(feasible >= 40, `only ${feasible} of 60 cases have a schedule`);
});
