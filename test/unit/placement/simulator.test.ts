import assert from "node:assert/strict";
import { test } from "node:test";
import { SpotrunError } from "../../../src/base/errors.js";
import { optimumCost } from "../../../src/placement/optimum.js";
import { simulate } from "../../../src/placement/simulator.js";
import { HOUR, traceOf } from "./synthetic.js";

// Spot $1/h, on-demand $3/h, 30 min to start any instance, 4 h of work; hourly ticks.
const cost = { spotPricePerHour: 1, onDemandPricePerHour: 3, restartOverheadMs: HOUR / 2 };
const trace = traceOf("z1", "11001111");
/** Dollars from sums of fractions of hours: equal to a cent's billionth. */
const near = (actual: number | undefined, expected: number) =>
  assert.ok(actual !== undefined && Math.abs(actual - expected) < 1e-9, `${actual} ≠ ${expected}`);
const run = (policy: Parameters<typeof simulate>[0]["policy"], deadlineMs: number) =>
  simulate({ traces: [trace], policy, workMs: 4 * HOUR, deadlineMs, cost, keepTimeline: true });

test("spot-only: two spot runs, each paying its setup, billed only to the finish", () => {
  // t0 setup+0.5 h, t1 +1 h, t2-t3 preempted and idle, t4 setup+0.5, t5 +1, t6 +1 → done at 7 h.
  const r = run("spot-only", 8 * HOUR);
  near(r.costUsd, 5);
  assert.equal(r.finishedAfterMs, 7 * HOUR);
  assert.deepEqual([r.preemptions, r.changeovers, r.deadlineMet], [1, 2, true]);
  assert.equal(r.timeline?.map((t) => t.choice[0]).join(""), "ssiisss");
  assert.equal(r.timeline?.[2]?.preempted, true);
});

test("greedy waits out the gap, then the safety net puts it on on-demand exactly in time", () => {
  // Deadline 6 h. After t2 slack is 0.5 h: one more idle hour would be too late → on-demand at t3.
  const r = run("greedy", 6 * HOUR);
  assert.equal(r.timeline?.map((t) => t.choice[0]).join(""), "ssiooo");
  assert.equal(r.timeline?.[3]?.rule, "safety-net");
  // 2 spot hours ($2) + 3 on-demand hours ($9); finishes on the deadline.
  near(r.costUsd, 11);
  assert.equal(r.finishedAfterMs, 6 * HOUR);
  assert.equal(r.deadlineMet, true);
});

test("uniform progress catches up on on-demand when behind its line", () => {
  const r = run("uniform-progress", 6 * HOUR);
  // t0: 4 h of work in 6 h is under 70 %, no line yet. t1: 3.5 of 5 h = 70 %: the line runs from
  // (1 h, 0.5 h) to (6 h, 4 h). t2: 1.5 h done vs 1.2 h → idle; t3: 1.5 h vs 1.9 h → on-demand;
  // t4: going back to spot would break the safety net.
  assert.deepEqual(
    r.timeline?.map((t) => t.rule),
    ["loose-deadline-spot", "exploit-spot", "ahead-of-line", "behind-line", "safety-net", "safety-net"],
  );
  near(r.costUsd, 11);
  assert.equal(r.deadlineMet, true);
});

test("on-demand pays one setup and the work at the on-demand price", () => {
  const r = run("on-demand", 6 * HOUR);
  near(r.costUsd, 4.5 * 3);
  assert.equal(r.finishedAfterMs, 4.5 * HOUR);
  assert.deepEqual([r.changeovers, r.preemptions], [1, 0]);
});

test("the optimum knows spot returns at t4 and switches back to it", () => {
  // Spot t0-t1 (1.5 h, $2), on-demand t2-t3 (to 3 h, $6), spot t4 + half of t5 (to 4 h, $1.5).
  const o = optimumCost({ trace, workMs: 4 * HOUR, deadlineMs: 6 * HOUR, cost });
  near(o.costUsd, 9.5);
  // With 8 h the whole job fits on spot: $5, as spot-only found.
  near(optimumCost({ trace, workMs: 4 * HOUR, deadlineMs: 8 * HOUR, cost }).costUsd, 5);
  // Impossible deadline: not even on-demand from the start makes it.
  assert.equal(optimumCost({ trace, workMs: 4 * HOUR, deadlineMs: 4 * HOUR, cost }).costUsd, undefined);
});

test("an overhead longer than a tick spans ticks, for the policies and the optimum alike", () => {
  // 15 min ticks, 30 min setup, 1 h of work, always spot: 6 ticks, $1.5.
  const t = traceOf("q", "1".repeat(16), HOUR / 4);
  const r = simulate({ traces: [t], policy: "greedy", workMs: HOUR, deadlineMs: 4 * HOUR, cost });
  near(r.costUsd, 1.5);
  assert.equal(r.finishedAfterMs, 1.5 * HOUR);
  near(optimumCost({ trace: t, workMs: HOUR, deadlineMs: 4 * HOUR, cost }).costUsd, 1.5);
});

test("multi-zone failover moves to the next zone and blocks the preempted one", () => {
  const a = traceOf("a", "110011111111");
  const b = traceOf("b", "111111111111");
  const r = simulate({
    traces: [a, b],
    policy: "spot-only",
    workMs: 4 * HOUR,
    deadlineMs: 12 * HOUR,
    cost,
    recovery: { strategy: "failover", block_zone_for: 3 * HOUR },
    keepTimeline: true,
  });
  assert.deepEqual(
    r.timeline?.map((t) => t.zone ?? "-"),
    ["a", "a", "b", "b", "b"],
  );
  // a's spot ended at t2 with 1.5 h done; b took over with a new setup: 0.5 + 1 + 1 → done at 5 h.
  assert.deepEqual([r.preemptions, r.changeovers, r.finishedAfterMs], [1, 2, 5 * HOUR]);
  near(r.costUsd, 5);
});

test("bad inputs are usage errors that say what to change", () => {
  const short = () => simulate({ traces: [traceOf("s", "11")], policy: "greedy", workMs: HOUR, deadlineMs: 3 * HOUR, cost });
  assert.throws(short, (e) => e instanceof SpotrunError && e.kind === "usage" && /covers 2h.*deadline 3h/.test(e.message));
  const late = () => simulate({ traces: [trace], policy: "greedy", workMs: 5 * HOUR, deadlineMs: 4 * HOUR, cost });
  assert.throws(late, /deadline is shorter than the work/);
  const mixed = () =>
    simulate({ traces: [trace, traceOf("y", "11111111", HOUR / 2)], policy: "greedy", workMs: HOUR, deadlineMs: 2 * HOUR, cost });
  assert.throws(mixed, /different ticks/);
});

test("a preempted zone stays blocked for block_zone_for even when the trace shows it back", () => {
  const zones = [traceOf("a", "1101111111"), traceOf("b", "1111011111"), traceOf("c", "1111111111")];
  const zonesWith = (block: number) =>
    simulate({
      traces: zones,
      policy: "spot-only",
      workMs: 4 * HOUR,
      deadlineMs: 10 * HOUR,
      cost,
      recovery: { strategy: "failover", block_zone_for: block },
      keepTimeline: true,
    }).timeline?.map((t) => t.zone ?? "-");
  // At t4 b is preempted; a came back at t3 but was preempted at t2, blocked until 5 h → c.
  assert.deepEqual(zonesWith(3 * HOUR), ["a", "a", "b", "b", "c", "c"]);
  // Without blocking, failover walks back to the best-ranked zone, a.
  assert.deepEqual(zonesWith(0), ["a", "a", "b", "b", "a", "a"]);
});
