import assert from "node:assert/strict";
import { test } from "node:test";
import { deferredStopAt, stopBudgetMs } from "../../../src/agent/stop-budget.js";
import type { InstanceId } from "../../../src/base/ids.js";
import { judgeNodes } from "../../../src/core/reconcilers/health-decisions.js";
import { decideAdoption, decideResume, decideSpare, spareAgents } from "../../../src/core/reconcilers/replace-decisions.js";
import type { InstanceInfo } from "../../../src/providers/provider.js";
import { replacesOnNotice } from "../../../src/spec/task-schema.js";
import { fakeInstanceInfo, fakeTask } from "../../support/fake-provider.js";

const info = fakeInstanceInfo;
const seen = (i: InstanceInfo) => ({ kind: "seen" as const, info: i, at: 0 });

test("replace_on_notice: on by default for spot with a strategy whose next market is the same; the task's word wins", () => {
  assert.equal(replacesOnNotice(fakeTask({ resources: { provider: "local", spot: true } })), true);
  assert.equal(replacesOnNotice(fakeTask({ resources: { provider: "local", spot: false } })), false);
  // A volume that moves with the job attaches to one instance at a time: no warm replacement by default.
  assert.equal(
    replacesOnNotice(
      fakeTask({
        resources: { provider: "gcp", spot: true, zone: "us-central1-a", volumes: [{ name: "work", size: 10, mount: "/work" }] },
      }),
    ),
    false,
  );
  assert.equal(
    replacesOnNotice(fakeTask({ resources: { provider: "local", spot: true }, recovery: { strategy: "failover" } })),
    false,
  );
  assert.equal(
    replacesOnNotice(fakeTask({ resources: { provider: "local", spot: true }, recovery: { replace_on_notice: false } })),
    false,
  );
  assert.equal(
    replacesOnNotice(
      fakeTask({ resources: { provider: "local", spot: true }, recovery: { strategy: "failover", replace_on_notice: true } }),
    ),
    true,
  );
});

test("a replacement: waits while launching or shipping; bootstraps once every node runs; ready when every agent waits; abandoned when it goes or its agent ends", () => {
  const running = judgeNodes([seen(info()), seen(info({ id: "i-2" as InstanceId }))]);
  const pending = judgeNodes([seen(info({ status: "pending" })), seen(info({ id: "i-2" as InstanceId }))]);
  const reclaimed = judgeNodes([seen(info({ status: "terminated" }))]);
  assert.deepEqual(decideSpare({ phase: "launching", nodes: undefined, agents: "unknown", spot: true }), { kind: "wait" });
  assert.deepEqual(decideSpare({ phase: "starting", nodes: pending, agents: "unknown", spot: true }), { kind: "wait" });
  assert.deepEqual(decideSpare({ phase: "starting", nodes: running, agents: "unknown", spot: true }), { kind: "bootstrap" });
  assert.deepEqual(decideSpare({ phase: "bootstrapping", nodes: reclaimed, agents: "unknown", spot: true }), { kind: "wait" });
  assert.deepEqual(decideSpare({ phase: "setting_up", nodes: running, agents: "setting_up", spot: true }), { kind: "wait" });
  assert.deepEqual(decideSpare({ phase: "setting_up", nodes: running, agents: "waiting", spot: true }), { kind: "ready" });
  assert.deepEqual(decideSpare({ phase: "ready", nodes: running, agents: "waiting", spot: true }), { kind: "wait" });
  assert.equal(decideSpare({ phase: "starting", nodes: reclaimed, agents: "unknown", spot: true }).kind, "abandon");
  assert.equal(decideSpare({ phase: "ready", nodes: reclaimed, agents: "waiting", spot: true }).kind, "abandon");
  assert.equal(decideSpare({ phase: "setting_up", nodes: running, agents: "exited", spot: true }).kind, "abandon");
  // A replacement reclaimed before its go is a preemption of the job's (an on-demand one gone, or a setup that failed, is not).
  assert.deepEqual(decideSpare({ phase: "ready", nodes: reclaimed, agents: "waiting", spot: true }), {
    kind: "abandon",
    reason: "instance i-1 of the replacement ended before it was used",
    preempted: true,
  });
  assert.equal(
    (
      decideSpare({
        phase: "ready",
        nodes: judgeNodes([seen(info({ status: "terminated", spot: false }))]),
        agents: "waiting",
        spot: false,
      }) as { preempted: boolean }
    ).preempted,
    false,
  );
  assert.equal(
    (decideSpare({ phase: "setting_up", nodes: running, agents: "reclaimed", spot: true }) as { preempted: boolean }).preempted,
    true,
  );
  assert.equal(
    (decideSpare({ phase: "setting_up", nodes: running, agents: "exited", spot: true }) as { preempted: boolean }).preempted,
    false,
  );
  const full = judgeNodes([seen(info({ failure: { kind: "disk_full", message: "no space" } }))]);
  assert.match(
    (decideSpare({ phase: "starting", nodes: full, agents: "unknown", spot: true }) as { reason: string }).reason,
    /disk full/,
  );
});

test("the replacement's agents: waiting only when every node waits; one exit ends it; a node not read yet is unknown", () => {
  const wait = [{ kind: "agent_started" }, { kind: "setup_done" }, { kind: "waiting_for_go" }];
  assert.equal(spareAgents([wait, wait]), "waiting");
  assert.equal(spareAgents([wait, [{ kind: "agent_started" }]]), "setting_up");
  assert.equal(spareAgents([wait, undefined]), "unknown");
  assert.equal(spareAgents([wait, [{ kind: "agent_exit", outcome: "setup_failed" }]]), "exited");
  // Its own notice ended it (endWaiting): reclaimed, whatever another node said.
  assert.equal(
    spareAgents([[{ kind: "agent_exit", outcome: "setup_failed" }], [{ kind: "agent_exit", outcome: "preempted" }]]),
    "reclaimed",
  );
  assert.equal(spareAgents([]), "unknown");
});

test("adoption: go when the attempt runs on the replacement's instances and it is set up; wait while it is on its way; discard it when the attempt runs elsewhere", () => {
  assert.deepEqual(decideAdoption(undefined, ["a"]), { kind: "bootstrap" });
  assert.deepEqual(decideAdoption({ phase: "launching", instanceIds: [] }, ["a"]), { kind: "wait" });
  assert.deepEqual(decideAdoption({ phase: "starting", instanceIds: ["a", "b"] }, ["b", "a"]), { kind: "wait" });
  assert.deepEqual(decideAdoption({ phase: "bootstrapping", instanceIds: ["a"] }, ["a"]), { kind: "wait" });
  assert.deepEqual(decideAdoption({ phase: "setting_up", instanceIds: ["a"] }, ["a"]), { kind: "go" });
  assert.deepEqual(decideAdoption({ phase: "ready", instanceIds: ["a"] }, ["a"]), { kind: "go" });
  assert.deepEqual(decideAdoption({ phase: "ready", instanceIds: ["a"] }, ["c"]), { kind: "discard" });
  assert.deepEqual(decideAdoption({ phase: "ready", instanceIds: ["a"] }, ["a", "c"]), { kind: "discard" });
});

test("after a controller restart: the replacement the killed one rented is taken over, not rented again; launched if it is not there", () => {
  const base = { replaces: true, noticed: true, found: 0, recorded: 0, nodes: 2 };
  // Its predecessor rented it: take it over.
  assert.deepEqual(decideResume({ ...base, found: 2 }), { kind: "adopt" });
  // None (or part of one): launch it, with the request the notice counted (its key adopts what exists).
  assert.deepEqual(decideResume(base), { kind: "launch" });
  assert.deepEqual(decideResume({ ...base, found: 1 }), { kind: "launch" });
  // No notice, no replace_on_notice, or the attempt recorded its own instances: nothing to take over.
  assert.deepEqual(decideResume({ ...base, found: 2, noticed: false }), { kind: "none" });
  assert.deepEqual(decideResume({ ...base, found: 2, replaces: false }), { kind: "none" });
  assert.deepEqual(decideResume({ ...base, found: 2, recorded: 2 }), { kind: "none" });
});

test("the deferred stop: the hook's allowance (or a 5 s SIGTERM grace), twice the last upload, a second; never before now", () => {
  assert.equal(stopBudgetMs({ hook: false, hookTimeoutMs: 90_000, lastUploadMs: undefined }), 5_000 + 2_000 + 1_000);
  assert.equal(stopBudgetMs({ hook: false, hookTimeoutMs: 3_000, lastUploadMs: 4_000 }), 3_000 + 8_000 + 1_000);
  assert.equal(stopBudgetMs({ hook: true, hookTimeoutMs: 90_000, lastUploadMs: 500 }), 90_000 + 2_000 + 1_000);
  assert.equal(deferredStopAt(1_000, 121_000, 8_000), 113_000);
  assert.equal(deferredStopAt(1_000, 31_000, 93_000), 1_000, "a budget longer than the notice stops at once");
});
