import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULT_PRICE_RATIO, rossThreshold } from "../../../src/placement/policies/ross.js";
import {
  type Decision,
  decide,
  initialPolicyState,
  type Observation,
  type PolicyState,
  parsePolicyState,
} from "../../../src/placement/policy.js";
import { simulate } from "../../../src/placement/simulator.js";
import { HOUR, traceOf } from "./synthetic.js";

/** A 10 h job, restart overhead 6 min, a decision every 30 min; K = 4 so √K = 2 and θ = 5/3. */
const obs = (o: Partial<Observation>): Observation => ({
  nowMs: 0,
  startMs: 0,
  deadlineMs: 20 * HOUR,
  workTotalMs: 10 * HOUR,
  workDoneMs: 0,
  restartOverheadMs: HOUR / 10,
  spotAvailable: false,
  current: "none",
  stepMs: HOUR / 2,
  ...o,
});
const start = (seed: number): PolicyState => initialPolicyState("ross", { seed, priceRatio: 4 });

test("ROSS's threshold is (1 + 2√K)/(1 + √K); its default K is the paper's V100 prices", () => {
  assert.equal(rossThreshold(4), 5 / 3);
  assert.equal(rossThreshold(1), 1.5);
  assert.equal(DEFAULT_PRICE_RATIO, 3.06 / 0.92);
  assert.deepEqual(initialPolicyState("ross", { seed: 9 }), {
    policy: "ross",
    lockedOnDemand: false,
    priceRatio: 3.06 / 0.92,
    random: { seed: 9, state: 9 },
  });
});

test("ROSS warms up on spot or waiting while time left ÷ work left > θ, drawing nothing", () => {
  // 20 h left for 10 h: 2 > 5/3.
  const wait = decide(obs({}), start(1));
  assert.deepEqual([wait.choice, wait.rule], ["idle", "warm-up-wait"]);
  assert.deepEqual(wait.state, start(1));
  assert.deepEqual(decide(obs({ spotAvailable: true }), start(1)).rule, "warm-up-spot");
});

test("at the first tick with time left ÷ work left ≤ θ, ROSS draws an on-demand block of R/(1+√K) in a window of R", () => {
  // At 4 h with 1 h done: 16 h left for 9 h = 1.78 > θ; at 5 h, 15 h for 9 h = 1.67 ≤ θ.
  assert.equal(decide(obs({ nowMs: 4 * HOUR, workDoneMs: HOUR }), start(1)).rule, "warm-up-wait");
  const d = decide(obs({ nowMs: 5 * HOUR, workDoneMs: HOUR }), start(1));
  const w = d.state.injection;
  assert.ok(w);
  assert.equal(w.untilMs, 14 * HOUR);
  assert.equal(w.onDemandUntilMs - w.onDemandFromMs, 3 * HOUR);
  assert.ok(w.onDemandFromMs >= 5 * HOUR && w.onDemandUntilMs <= 14 * HOUR, JSON.stringify(w));
  assert.notEqual(d.state.random?.state, 1, "the generator moved on");
  assert.equal(d.state.random?.seed, 1, "the seed is kept for replays");
  // The same seed draws the same block; the seeds between them spread it over the window.
  assert.deepEqual(decide(obs({ nowMs: 5 * HOUR, workDoneMs: HOUR }), start(1)), d);
  const froms = new Set(
    Array.from(
      { length: 20 },
      (_, i) => decide(obs({ nowMs: 5 * HOUR, workDoneMs: HOUR }), start(i)).state.injection?.onDemandFromMs,
    ),
  );
  assert.ok(froms.size >= 15, `${froms.size} distinct blocks over 20 seeds`);
  for (const f of froms) assert.ok((f as number) >= 5 * HOUR && (f as number) <= 11 * HOUR);
});

test("in the window ROSS runs on-demand inside its block only when spot is gone; after it, spot or wait", () => {
  const s: PolicyState = {
    ...start(1),
    injection: { untilMs: 14 * HOUR, onDemandFromMs: 8 * HOUR, onDemandUntilMs: 11 * HOUR },
  };
  const at = (nowMs: number, spotAvailable: boolean, current: Observation["current"] = "none"): Decision =>
    decide(obs({ nowMs, workDoneMs: HOUR, spotAvailable, current, currentSinceMs: 0, deadlineMs: 24 * HOUR }), s);
  assert.deepEqual([at(7 * HOUR, false).choice, at(7 * HOUR, false).rule], ["idle", "injection-wait"]);
  assert.deepEqual([at(8 * HOUR, false).choice, at(8 * HOUR, false).rule], ["on_demand", "injection-on-demand"]);
  assert.deepEqual([at(9 * HOUR, true).choice, at(9 * HOUR, true).rule], ["spot", "injection-spot"]);
  assert.equal(at(11 * HOUR, false).rule, "injection-wait");
  assert.deepEqual([at(14 * HOUR, false).choice, at(14 * HOUR, false).rule], ["idle", "catch-up-wait"]);
  assert.equal(at(14 * HOUR, true).rule, "catch-up-spot");
  // The draw happens once: a state with a window keeps it.
  assert.deepEqual(at(9 * HOUR, true).state, s);
});

test("ROSS's safety net overrides every phase, and its state survives a JSON round trip", () => {
  // 1.5 h left for 1.4 h of work: waiting half an hour would leave less than one overhead.
  const d = decide(obs({ nowMs: 18.5 * HOUR, workDoneMs: 8.6 * HOUR }), start(3));
  assert.deepEqual([d.choice, d.rule, d.state.lockedOnDemand], ["on_demand", "safety-net", true]);
  const back = parsePolicyState(JSON.parse(JSON.stringify(d.state)));
  assert.deepEqual(back, d.state);
  assert.equal(decide(obs({ nowMs: 19 * HOUR, workDoneMs: 9 * HOUR, spotAvailable: true }), back).choice, "on_demand");
  assert.throws(() => parsePolicyState({ ...d.state, random: { seed: 1 } }), /not a random generator/);
  assert.throws(() => parsePolicyState({ ...d.state, injection: { untilMs: 1 } }), /not an injection window/);
});

test("a simulation of ROSS replays from its seed, and the seed matters", () => {
  const trace = traceOf("z", "1100111000110111000001111100011100001110001111001100011110000111", HOUR / 2);
  const run = (seed: number) =>
    simulate({
      traces: [trace],
      policy: "ross",
      workMs: 20 * HOUR,
      deadlineMs: 30 * HOUR,
      cost: { spotPricePerHour: 1, onDemandPricePerHour: 4, restartOverheadMs: HOUR / 10 },
      policyParams: { seed },
      keepTimeline: true,
    });
  assert.deepEqual(run(5), run(5));
  const costs = new Set(Array.from({ length: 10 }, (_, i) => run(i).costUsd.toFixed(6)));
  assert.ok(costs.size > 1, "different seeds place the block differently");
  for (let i = 0; i < 10; i++) assert.ok(run(i).deadlineMet);
});
