import assert from "node:assert/strict";
import { test } from "node:test";
import { seededRandom } from "../../../src/base/random.js";
import { optimumCost } from "../../../src/placement/optimum.js";
import { simulate } from "../../../src/placement/simulator.js";
import type { Trace } from "../../../src/spec/availability-trace.js";

const MIN = 60_000;

/**
 * Random markets (seeded, so failures replay): runs of availability with random lengths, ticks of
 * 5-20 min, overheads shorter and longer than a tick, deadlines from tight to loose. Whenever a
 * schedule exists at all, greedy, uniform progress, adaptive, on-demand and ROSS (with two seeds)
 * meet the deadline, and none of them beats the offline optimum.
 */
test("on random markets the safety net always holds and the optimum is a lower bound", () => {
  const rand = seededRandom(20_240_416);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)] as T;
  let feasible = 0;
  for (let i = 0; i < 300; i++) {
    const tickMs = pick([5, 10, 15, 20]) * MIN;
    const available: boolean[] = [];
    let up = rand() < 0.5;
    while (available.length < 400) {
      const run = 1 + Math.floor(rand() * (up ? 30 : 12));
      for (let k = 0; k < run; k++) available.push(up);
      up = !up;
    }
    const trace: Trace = { name: `r${i}`, tickMs, available: available.slice(0, 400) };
    const workMs = (60 + Math.floor(rand() * 40) * 5) * MIN;
    const deadlineMs = workMs + Math.floor(rand() * 24) * 10 * MIN;
    const cost = { spotPricePerHour: 1, onDemandPricePerHour: 3, restartOverheadMs: pick([3, 10, 12, 25]) * MIN };
    const best = optimumCost({ trace, workMs, deadlineMs, cost }).costUsd;
    // Feasible for an online policy: on-demand from the start, or the first tick, is on time.
    if (workMs + cost.restartOverheadMs > deadlineMs) continue;
    feasible++;
    assert.ok(best !== undefined, `case ${i}: optimum found no schedule`);
    for (const [policy, seed] of [
      ["greedy", 1],
      ["uniform-progress", 1],
      ["adaptive", 1],
      ["on-demand", 1],
      ["ross", 1],
      ["ross", i + 2],
    ] as const) {
      const r = simulate({ traces: [trace], policy, workMs, deadlineMs, cost, policyParams: { seed } });
      const what = `case ${i} (${policy}, seed ${seed}, tick ${tickMs / MIN}m, d ${cost.restartOverheadMs / MIN}m, work ${workMs / MIN}m, deadline ${deadlineMs / MIN}m)`;
      assert.ok(r.deadlineMet, `${what}: finished at ${r.finishedAfterMs}`);
      assert.ok(r.costUsd >= best - 1e-9, `${what}: $${r.costUsd} beats the optimum $${best}`);
    }
  }
  assert.ok(feasible > 200, `only ${feasible} feasible cases`);
});
