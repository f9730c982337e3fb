import assert from "node:assert/strict";
import { test } from "node:test";
import {
  decide,
  initialPolicyState,
  type Observation,
  type PolicyName,
  parsePolicyState,
} from "../../../src/placement/policy.js";
import { HOUR } from "./synthetic.js";

/** A 4 h job due 6 h after it started, restart overhead 30 min, a decision every hour. */
const obs = (o: Partial<Observation>): Observation => ({
  nowMs: 0,
  startMs: 0,
  deadlineMs: 6 * HOUR,
  workTotalMs: 4 * HOUR,
  workDoneMs: 0,
  restartOverheadMs: HOUR / 2,
  spotAvailable: false,
  current: "none",
  currentSinceMs: 0,
  stepMs: HOUR,
  ...o,
});
const choose = (p: PolicyName, o: Partial<Observation>, locked = false) =>
  decide(obs(o), { ...initialPolicyState(p), lockedOnDemand: locked });

test("greedy takes spot, waits while slack allows, then commits to on-demand for good", () => {
  assert.equal(choose("greedy", { spotAvailable: true }).choice, "spot");
  // slack 1.5 h: idling an hour leaves 0.5 h = one overhead, still enough.
  const wait = choose("greedy", { nowMs: 2 * HOUR, workDoneMs: 1.5 * HOUR });
  assert.deepEqual([wait.choice, wait.rule], ["idle", "wait-for-spot"]);
  // slack 0.5 h: one more idle hour would make it late.
  const commit = choose("greedy", { nowMs: 3 * HOUR, workDoneMs: 1.5 * HOUR });
  assert.deepEqual([commit.choice, commit.rule, commit.state.lockedOnDemand], ["on_demand", "safety-net", true]);
  // Locked: spot coming back does not tempt it.
  assert.equal(
    choose("greedy", { nowMs: 4 * HOUR, workDoneMs: 2 * HOUR, spotAvailable: true, current: "on_demand" }, true).choice,
    "on_demand",
  );
});

test("greedy will not start a spot whose setup would eat the last overhead of slack", () => {
  // slack 0.9 h: a spot's 0.5 h setup leaves 0.4 h < 0.5 h, so on-demand now.
  const d = choose("greedy", { nowMs: 1.1 * HOUR, workDoneMs: 0, spotAvailable: true, deadlineMs: 6 * HOUR });
  assert.deepEqual([d.choice, d.rule], ["on_demand", "safety-net"]);
});

test("a running spot past its setup is kept at any slack ≥ one overhead", () => {
  const d = choose("greedy", {
    nowMs: 3 * HOUR,
    workDoneMs: 2.5 * HOUR,
    spotAvailable: true,
    current: "spot",
    currentSinceMs: HOUR,
  });
  assert.equal(d.choice, "spot");
});

test("uniform progress: idle ahead of the line, on-demand behind it, spot whenever there", () => {
  // Line: 4 h of work over 6 h → 2/3 per hour. At 2 h the line is at 1.33 h.
  assert.deepEqual(choose("uniform-progress", { nowMs: 2 * HOUR, workDoneMs: 1.5 * HOUR }).rule, "ahead-of-line");
  const behind = choose("uniform-progress", { nowMs: 3 * HOUR, workDoneMs: 1.5 * HOUR - 1, deadlineMs: 8 * HOUR });
  assert.deepEqual([behind.choice, behind.rule, behind.state.lockedOnDemand], ["on_demand", "behind-line", false]);
  const risk = choose("uniform-progress", { nowMs: 3 * HOUR, workDoneMs: HOUR, deadlineMs: 8 * HOUR, spotAvailable: true });
  assert.deepEqual([risk.choice, risk.rule], ["spot", "take-risk-spot"]);
});

test("uniform progress hysteresis: stays on on-demand until ahead of the line 2d later", () => {
  // deadline 8 h: line 0.5 h of work per hour; d = 0.5 h so ep(t + 1 h) matters.
  const base = { deadlineMs: 8 * HOUR, current: "on_demand" as const, currentSinceMs: 0 };
  // At 2 h: ep(2) = 1.0, ep(3) = 1.5. Done 1.2 h: ahead of the line but not of ep(t + 2d).
  assert.equal(choose("uniform-progress", { ...base, nowMs: 2 * HOUR, workDoneMs: 1.2 * HOUR }).rule, "hysteresis");
  assert.equal(choose("uniform-progress", { ...base, nowMs: 2 * HOUR, workDoneMs: 1.5 * HOUR }).choice, "idle");
  // A plain idle job at 1.2 h done would not go on-demand: hysteresis is only for leaving on-demand.
  assert.equal(choose("uniform-progress", { nowMs: 2 * HOUR, workDoneMs: 1.2 * HOUR, deadlineMs: 8 * HOUR }).choice, "idle");
});

test("uniform progress safety net locks on-demand and keeps it", () => {
  const d = choose("uniform-progress", { nowMs: 4 * HOUR, workDoneMs: 2 * HOUR, spotAvailable: true, current: "on_demand" });
  assert.deepEqual([d.choice, d.rule, d.state.lockedOnDemand], ["on_demand", "safety-net", true]);
  assert.equal(
    decide(obs({ nowMs: 5 * HOUR, workDoneMs: 3 * HOUR, spotAvailable: true, current: "on_demand" }), d.state).choice,
    "on_demand",
  );
});

test("every policy idles once the work is done; on-demand and spot-only do what they say", () => {
  for (const p of ["greedy", "uniform-progress", "on-demand", "spot-only"] as const)
    assert.equal(choose(p, { workDoneMs: 4 * HOUR, spotAvailable: true }, true).choice, "idle");
  assert.equal(choose("on-demand", { spotAvailable: true }).choice, "on_demand");
  assert.equal(choose("spot-only", { nowMs: 5 * HOUR }).choice, "idle");
  assert.equal(choose("spot-only", { nowMs: 5 * HOUR, spotAvailable: true }).choice, "spot");
});

test("the policy state survives a JSON round trip (the controller stores it)", () => {
  const d = choose("greedy", { nowMs: 3 * HOUR, workDoneMs: 1.5 * HOUR });
  const back = parsePolicyState(JSON.parse(JSON.stringify(d.state)));
  assert.deepEqual(back, { policy: "greedy", lockedOnDemand: true });
  assert.equal(decide(obs({ nowMs: 4 * HOUR, workDoneMs: 2 * HOUR, spotAvailable: true }), back).choice, "on_demand");
});

test("a stored state that is not a policy state is refused", () => {
  assert.throws(() => parsePolicyState({ policy: "yolo", lockedOnDemand: false }), /unknown policy "yolo"/);
  assert.throws(() => parsePolicyState(null), /policy state/);
});
