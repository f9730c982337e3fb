import assert from "node:assert/strict";
import { test } from "node:test";
import { ExternalError, usageError } from "../../../src/base/errors.js";
import { InstanceId } from "../../../src/base/ids.js";
import { ControllerBug, faultOf, retryDelayMs } from "../../../src/core/controller-errors.js";
import { decideBootstrapFailure, setupTimedOut } from "../../../src/core/reconcilers/bootstrap-decisions.js";
import { goneEnd, judgeHeartbeat, judgeNodes, nodeExitEnd } from "../../../src/core/reconcilers/health-decisions.js";
import {
  decideRefusal,
  hourlyBudgetRefuses,
  overHourlyBudget,
  refusalFix,
} from "../../../src/core/reconcilers/launch-decisions.js";
import { maxPricePerNode } from "../../../src/core/reconcilers/launch-request.js";
import { decideReap } from "../../../src/core/reconcilers/reap-decisions.js";
import { keptAsOwned } from "../../../src/core/reconcilers/reaper.js";
import type { InstanceRow } from "../../../src/state/state-store.js";
import { fakeInstanceInfo, fakeTask, jobRow } from "../../support/fake-provider.js";

const info = fakeInstanceInfo;

test("refusals: spot falls back to on-demand when the task or the deadline says so; a failover walks on; capacity is retried on every attempt, the first included, up to max_launch_failures; a quota ends the job at once", () => {
  const base = {
    spot: true,
    refusal: "capacity" as const,
    fallbackOnDemand: false,
    deadlineSaysOnDemand: false,
    failingOver: false,
    launchFailures: 0,
    maxLaunchFailures: 10,
  };
  assert.deepEqual(decideRefusal({ ...base, fallbackOnDemand: true }), { kind: "fallback_on_demand" });
  assert.deepEqual(decideRefusal({ ...base, deadlineSaysOnDemand: true }), { kind: "fallback_on_demand" });
  assert.deepEqual(decideRefusal({ ...base, spot: false, fallbackOnDemand: true }), { kind: "end", fatal: false });
  assert.deepEqual(decideRefusal({ ...base, failingOver: true }), { kind: "fail_over", fatal: false });
  assert.deepEqual(decideRefusal({ ...base, failingOver: true, launchFailures: 10 }), { kind: "fail_over", fatal: true });
  assert.deepEqual(decideRefusal(base), { kind: "end", fatal: false }, "the first refusal is retried");
  assert.deepEqual(decideRefusal({ ...base, launchFailures: 9 }), { kind: "end", fatal: false });
  assert.deepEqual(decideRefusal({ ...base, launchFailures: 10 }), { kind: "end", fatal: true });
  assert.deepEqual(decideRefusal({ ...base, maxLaunchFailures: 0 }), { kind: "end", fatal: true });
  assert.deepEqual(decideRefusal({ ...base, refusal: "quota" }), { kind: "end", fatal: true });
  assert.deepEqual(decideRefusal({ ...base, refusal: "unsupported", failingOver: true }), { kind: "fail_over", fatal: true });
  assert.match(
    refusalFix("capacity", true, fakeTask()),
    /resources\.fallback_on_demand: true, or list more resources\.instance_types/,
  );
  assert.match(refusalFix("quota", true, fakeTask()), /quota/);
});

test("the hourly budget caps the price asked per node and refuses instances that cost more", () => {
  const task = fakeTask({ num_nodes: 2, budget: { max_hourly: 1 }, resources: { provider: "local", max_price: 0.4 } });
  assert.equal(maxPricePerNode(task), 0.4);
  assert.equal(maxPricePerNode(fakeTask({ num_nodes: 4, budget: { max_hourly: 1 } })), 0.25);
  assert.equal(maxPricePerNode(fakeTask()), undefined);
  assert.equal(overHourlyBudget(task, [info({ pricePerHour: 0.4 }), info({ pricePerHour: 0.4 })]), undefined);
  assert.match(
    overHourlyBudget(task, [info({ pricePerHour: 0.6 }), info({ pricePerHour: 0.6 })]) ?? "",
    /over budget.max_hourly \$1/,
  );
});

test("nodes: a fault, a reclaim, a node not found for good, one not shown yet, all present", () => {
  const at = 0;
  assert.equal(
    judgeNodes([{ kind: "seen", info: info({ failure: { kind: "disk_full", message: "ENOSPC" } }), at }]).kind,
    "failed",
  );
  const gone = judgeNodes([
    { kind: "seen", info: info(), at },
    { kind: "seen", info: info({ id: "i-2" as InstanceId, interrupted: { reason: "outbid", at: 1 } }), at },
  ]);
  assert.equal(gone.kind === "gone" && gone.info?.id, "i-2");
  assert.deepEqual(
    judgeNodes([
      { kind: "seen", info: info(), at },
      { kind: "gone", since: 0 },
    ]),
    { kind: "gone", info: undefined },
  );
  assert.equal(
    judgeNodes([
      { kind: "seen", info: info(), at },
      { kind: "missing", since: 0 },
    ]).kind,
    "unknown",
  );
  const pending = judgeNodes([{ kind: "seen", info: info({ status: "pending" }), at }]);
  assert.equal(pending.kind === "present" && pending.running, false);
  const up = judgeNodes([{ kind: "seen", info: info(), at }]);
  assert.equal(up.kind === "present" && up.running, true);
});

test("a gone spot instance is a preemption, an on-demand one lost; a node's own exit ends the attempt unless it succeeded or was stopped", () => {
  assert.deepEqual(goneEnd(info({ interrupted: { reason: "outbid", at: 0 } }), false), { kind: "preempted", reason: "outbid" });
  assert.deepEqual(goneEnd(info({ spot: false, status: "terminated" }), true), {
    kind: "lost",
    reason: "instance i-1 terminated",
  });
  assert.deepEqual(goneEnd(undefined, true), { kind: "preempted", reason: "instance vanished" });
  const exit = (outcome: string, exit_code: number | null = null) => ({ kind: "agent_exit", at: 0, outcome, exit_code }) as never;
  assert.equal(nodeExitEnd(1, "i-2", exit("succeeded")), undefined);
  assert.equal(nodeExitEnd(1, "i-2", exit("stopped")), undefined);
  assert.deepEqual(nodeExitEnd(1, "i-2", exit("failed", 3)), {
    kind: "user_error",
    detail: "node 1 (i-2): run ended with exit code 3",
  });
  assert.equal(nodeExitEnd(1, "i-2", exit("preempted"))?.kind, "preempted");
  assert.equal(nodeExitEnd(1, "i-2", exit("setup_failed"))?.kind, "setup_failed");
});

test("heartbeat: not read while recent, fresh when the file is, lost only after the whole timeout", () => {
  const t = 60_000;
  assert.equal(judgeHeartbeat({ now: 100_000, lastHeartbeat: 80_000, beat: Number.NaN, timeoutMs: t }), "not_due");
  assert.equal(judgeHeartbeat({ now: 100_000, lastHeartbeat: 60_000, beat: 99_000, timeoutMs: t }), "fresh");
  assert.equal(judgeHeartbeat({ now: 100_000, lastHeartbeat: 60_000, beat: Number.NaN, timeoutMs: t }), "waiting");
  assert.equal(judgeHeartbeat({ now: 100_000, lastHeartbeat: 40_000, beat: 30_000, timeoutMs: t }), "lost");
});

test("bootstrap failures: a reclaim waits for its end, a permanent fault ends the attempt, others back off capped", () => {
  assert.deepEqual(decideBootstrapFailure({ reclaimed: true, retryable: false, triesSoFar: 0 }), { kind: "await_reclaim" });
  assert.deepEqual(decideBootstrapFailure({ reclaimed: false, retryable: false, triesSoFar: 3 }), { kind: "setup_failed" });
  const r = decideBootstrapFailure({ reclaimed: false, retryable: true, triesSoFar: 2, random: () => 1 });
  assert.deepEqual(r, { kind: "retry", tries: 3, delayMs: 4000 });
  const capped = decideBootstrapFailure({ reclaimed: false, retryable: true, triesSoFar: 20, random: () => 1 });
  assert.equal(capped.kind === "retry" && capped.delayMs, 30_000);
  assert.equal(setupTimedOut({ now: 10, startedAt: 0, setupTimeoutMs: 10, lastError: undefined, waitingFor: "i-1" }), undefined);
  assert.match(
    setupTimedOut({ now: 11, startedAt: 0, setupTimeoutMs: 10, lastError: undefined, waitingFor: "i-1" }) ?? "",
    /instance i-1 was not running/,
  );
  assert.match(
    setupTimedOut({ now: 11, startedAt: 0, setupTimeoutMs: 10, lastError: "ssh refused", waitingFor: "i-1" }) ?? "",
    /^ssh refused \(setup_timeout/,
  );
});

test("reaper: live and owned is kept, live and not owned is terminated, ended at the provider with an open row is recorded, for finished jobs too", () => {
  const f = { provider: "live" as const, rowOpen: true, jobLive: true, attemptOwns: true };
  assert.equal(decideReap(f), "keep");
  assert.equal(decideReap({ ...f, attemptOwns: false }), "terminate");
  assert.equal(decideReap({ ...f, jobLive: false }), "terminate");
  assert.equal(decideReap({ ...f, provider: "ended", jobLive: false }), "record_end");
  assert.equal(decideReap({ ...f, provider: "absent", attemptOwns: false }), "record_end");
  assert.equal(decideReap({ ...f, provider: "absent" }), "keep", "a current attempt's instance the API does not show yet");
  assert.equal(decideReap({ ...f, provider: "ended", rowOpen: false, jobLive: false }), "keep");
});

test("errors decide by what they are: engine errors and controller bugs are bugs, usage is the user's, throttling retries", () => {
  assert.equal(faultOf(new ControllerBug("x")), "bug");
  assert.equal(faultOf(new TypeError("x is undefined")), "bug");
  assert.equal(faultOf(usageError("bad")), "user");
  assert.equal(faultOf(new ExternalError("ec2", "RequestLimitExceeded", "slow down", true)), "retryable");
  assert.equal(faultOf(new ExternalError("ec2", "UnauthorizedOperation", "no", false)), "user");
  assert.equal(faultOf(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" })), "retryable");
  assert.equal(
    retryDelayMs(1, () => 0.5),
    1000,
  );
  assert.equal(
    retryDelayMs(3, () => 0.5),
    4000,
  );
  assert.equal(
    retryDelayMs(30, () => 0.5),
    60_000,
  );
  assert.equal(
    retryDelayMs(30, () => 1),
    90_000,
  );
});

test("max_hourly is checked against the offers before renting: the cheapest fitting offer of the planned market counts, per node", () => {
  const offer = (instanceType: string, spot: boolean, pricePerHour: number) =>
    ({ provider: "local", id: instanceType, instanceType, spot, pricePerHour, onDemandPricePerHour: 1 }) as const;
  const offers = [offer("a", true, 0.03), offer("b", true, 0.02), offer("a", false, 0.1)];
  const task = fakeTask({ budget: { max_hourly: 0.025 } });
  assert.equal(hourlyBudgetRefuses(task, offers, true, []), undefined, "b fits");
  assert.match(hourlyBudgetRefuses(task, offers, true, ["a"]) ?? "", /below the cheapest spot offer, \$0\.0300\/h \(a\)/);
  assert.match(hourlyBudgetRefuses(task, offers, false, []) ?? "", /on-demand offer, \$0\.1000\/h/);
  assert.match(
    hourlyBudgetRefuses(fakeTask({ num_nodes: 2, budget: { max_hourly: 0.03 } }), offers, true, []) ?? "",
    /\$0\.0400\/h for 2 nodes/,
  );
  assert.equal(hourlyBudgetRefuses(fakeTask(), offers, true, []), undefined, "no cap");
  assert.equal(hourlyBudgetRefuses(task, [], true, []), undefined, "no offer known: the launch's own price cap decides");
});

test("the reaper keeps on its pass's one read only a running instance, with its row open, of the current live attempt of a job not finished; anything else is decided on fresh reads", () => {
  const now = 1_000_000;
  const job = jobRow("j-1", fakeTask(), now, { state: "RUNNING", attempt: 2 });
  const live = { jobs: new Map([["j-1", job]]), open: new Set(["j-1/2"]) };
  const info = fakeInstanceInfo({ id: InstanceId("i-1") });
  const row = { id: InstanceId("i-1"), job_id: "j-1", attempt: 2 } as InstanceRow;
  assert.equal(keptAsOwned(info, row, live), true);
  assert.equal(keptAsOwned({ ...info, status: "terminated" }, row, live), false, "ended at the provider: its row is settled");
  assert.equal(keptAsOwned(undefined, row, live), false, "not listed");
  assert.equal(keptAsOwned(info, undefined, live), false, "no row: a leftover, or a spare");
  assert.equal(keptAsOwned(info, { ...row, attempt: 1 }, live), false, "an earlier attempt's");
  assert.equal(keptAsOwned(info, row, { ...live, open: new Set() }), false, "its attempt has ended");
  assert.equal(
    keptAsOwned(info, row, { ...live, jobs: new Map([["j-1", { ...job, state: "FAILED" }]]) }),
    false,
    "its job has finished",
  );
  assert.equal(keptAsOwned(info, row, { ...live, jobs: new Map() }), false, "a job the pass did not read");
});
