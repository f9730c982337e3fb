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
/** Uniform progress with its line already drawn from the start, as a stored state would have it. */
const onLine = (o: Partial<Observation>) =>
  decide(obs(o), { ...initialPolicyState("uniform-progress"), line: { atMs: 0, workDoneMs: 0 } });

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
  assert.equal(onLine({ nowMs: 2 * HOUR, workDoneMs: 1.5 * HOUR }).rule, "ahead-of-line");
  const behind = onLine({ nowMs: 3 * HOUR, workDoneMs: 1.5 * HOUR - 1, deadlineMs: 8 * HOUR });
  // deadline 8 h: the line is at 1.5 h at 3 h.
  assert.deepEqual([behind.choice, behind.rule, behind.state.lockedOnDemand], ["on_demand", "behind-line", false]);
  const risk = onLine({ nowMs: 3 * HOUR, workDoneMs: HOUR, deadlineMs: 8 * HOUR, spotAvailable: true });
  assert.deepEqual([risk.choice, risk.rule], ["spot", "take-risk-spot"]);
});

test("uniform progress draws its line when the job fraction reaches 70 %, waiting for spot before", () => {
  // 4 h of work, 6 h left: 67 % < 70 %, no line yet, so no on-demand however far behind.
  const loose = choose("uniform-progress", {});
  assert.deepEqual([loose.choice, loose.rule, loose.state.line], ["idle", "loose-deadline-wait", undefined]);
  assert.equal(choose("uniform-progress", { spotAvailable: true }).rule, "loose-deadline-spot");
  // At 1 h with 0.5 h done: 3.5 h of 5 h = 70 %: the line starts here, at the progress made.
  const drawn = choose("uniform-progress", { nowMs: HOUR, workDoneMs: HOUR / 2 });
  assert.deepEqual(drawn.state.line, { atMs: HOUR, workDoneMs: HOUR / 2 });
  assert.deepEqual([drawn.choice, drawn.rule], ["idle", "ahead-of-line"]);
  // From then on the stored line decides: at 2 h it expects 0.5 + 3.5 × 1/5 = 1.2 h done
  // (decisions every 15 min here, so idling is still safe).
  const at2h = (workDoneMs: number) => decide(obs({ nowMs: 2 * HOUR, workDoneMs, stepMs: HOUR / 4 }), drawn.state).rule;
  assert.equal(at2h(1.1 * HOUR), "behind-line");
  assert.equal(at2h(1.2 * HOUR), "ahead-of-line");
  // A tight deadline draws the line at once, from the start.
  assert.deepEqual(choose("uniform-progress", { deadlineMs: 5 * HOUR }).state.line, { atMs: 0, workDoneMs: 0 });
});

test("uniform progress hysteresis: stays on on-demand until ahead of the line 2d later", () => {
  // deadline 8 h: line 0.5 h of work per hour; d = 0.5 h so ep(t + 1 h) matters.
  const base = { deadlineMs: 8 * HOUR, current: "on_demand" as const, currentSinceMs: 0 };
  // At 2 h: ep(2) = 1.0, ep(3) = 1.5. Done 1.2 h: ahead of the line but not of ep(t + 2d).
  assert.equal(onLine({ ...base, nowMs: 2 * HOUR, workDoneMs: 1.2 * HOUR }).rule, "hysteresis");
  assert.equal(onLine({ ...base, nowMs: 2 * HOUR, workDoneMs: 1.5 * HOUR }).choice, "idle");
  // A plain idle job at 1.2 h done would not go on-demand: hysteresis is only for leaving on-demand.
  assert.equal(onLine({ nowMs: 2 * HOUR, workDoneMs: 1.2 * HOUR, deadlineMs: 8 * HOUR }).choice, "idle");
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
  const withLine = { policy: "uniform-progress", lockedOnDemand: false, line: { atMs: 5, workDoneMs: 2 } };
  assert.deepEqual(parsePolicyState(JSON.parse(JSON.stringify(withLine))), withLine);
  assert.throws(() => parsePolicyState({ ...withLine, line: { atMs: "5" } }), /not a progress line/);
  assert.throws(() => parsePolicyState({ policy: "yolo", lockedOnDemand: false }), /unknown policy "yolo"/);
  assert.throws(() => parsePolicyState(null), /policy state/);
});
