import assert from "node:assert/strict";
import { test } from "node:test";
import { afterAttempt, budgetAction, endKindOf, launchBackoffMs, planLaunch } from "../../../src/core/decide.js";
import { canMove } from "../../../src/core/job-state.js";
import { parseTaskText } from "../../../src/spec/load-task.js";

const task = (extra = "") => parseTaskText(`run: x\n${extra}`, "t.yaml");
const zero = { preemptions: 0, error_restarts: 0 };

test("preemptions recover until max_restarts, then fail", () => {
  const t = task("recovery: {max_restarts: 2}");
  let c = zero;
  for (let i = 0; i < 2; i++) {
    const tr = afterAttempt("preempted", c, t);
    assert.equal(tr.state, "RECOVERING");
    c = tr.counters;
  }
  const last = afterAttempt("preempted", c, t);
  assert.equal(last.state, "FAILED");
  assert.match(last.message, /more than recovery\.max_restarts=2/);
});

test("user errors are retried only up to max_restarts_on_errors (default 0)", () => {
  assert.equal(afterAttempt("user_error", zero, task(), "exit code 3").state, "FAILED");
  const t = task("recovery: {max_restarts_on_errors: 1}");
  const first = afterAttempt("user_error", zero, t, "exit code 3");
  assert.equal(first.state, "RECOVERING");
  assert.equal(afterAttempt("setup_failed", first.counters, t).state, "FAILED");
  // Preemptions do not eat into the error budget.
  assert.equal(afterAttempt("preempted", first.counters, t).counters.error_restarts, 1);
});

test("agent outcomes map to attempt ends", () => {
  assert.equal(endKindOf("stopped", "budget"), "over_budget");
  assert.equal(endKindOf("stopped", "cancel"), "cancelled");
  assert.equal(endKindOf("preempted", undefined), "preempted");
  assert.equal(afterAttempt("over_budget", zero, task("budget: {max_cost: 1}")).state, "OVER_BUDGET");
});

test("on_demand_after N preemptions within the window", () => {
  const t = task("recovery: {strategy: on_demand_after, on_demand_after: 2, window: 1h}");
  const now = 10 * 3_600_000;
  const pre = (at: number) => ({ spot: true, endKind: "preempted", endedAt: at });
  assert.equal(planLaunch(t, [pre(now - 1000)], now).spot, true);
  assert.equal(planLaunch(t, [pre(now - 1000), pre(now - 2000)], now).spot, false);
  assert.equal(
    planLaunch(t, [pre(now - 2 * 3_600_000), pre(now - 1000)], now).spot,
    true,
    "old preemptions fall out of the window",
  );
  assert.equal(planLaunch(task("resources: {spot: false}"), [], now).spot, false);
});

test("budget: warn once at 80 %, stop at 100 %", () => {
  assert.equal(budgetAction(0.79, 1, 0), "none");
  assert.equal(budgetAction(0.8, 1, 0), "warn");
  assert.equal(budgetAction(0.9, 1, 1), "none");
  assert.equal(budgetAction(1, 1, 1), "stop");
  assert.equal(budgetAction(2, 1, 2), "none");
  assert.equal(budgetAction(5, undefined, 0), "none");
});

test("launch backoff doubles to a minute; the state machine refuses illegal moves", () => {
  assert.deepEqual([1, 2, 3, 10].map(launchBackoffMs), [2000, 4000, 8000, 60_000]);
  assert.equal(canMove("SUCCEEDED", "RUNNING"), false);
  assert.equal(canMove("RUNNING", "RECOVERING"), true);
  assert.equal(canMove("PENDING", "RUNNING"), false);
});
