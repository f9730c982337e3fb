import assert from "node:assert/strict";
import { test } from "node:test";
import { lostNodes } from "../../../src/core/reconcilers/health-decisions.js";
import { keptFitPlan, nodesToLaunch, survivorsToKeep } from "../../../src/core/reconcilers/partial-decisions.js";
import { replacesOnNotice } from "../../../src/spec/task-schema.js";
import { fakeInstanceInfo, fakeTask } from "../../support/fake-provider.js";

const row = (id: string, node: number, spot = true, instanceType = "t") => ({ id, node, spot, instanceType, pricePerHour: 1 });
const live = [row("a", 0), row("b", 1), row("c", 2)];
const base = { partial: true, numNodes: 3, kind: "preempted" as const, next: "RECOVERING" as const, lost: ["b"], live };

test("partial: the survivors of a preemption or a lost node are kept; anything else moves the whole job", () => {
  assert.deepEqual(
    survivorsToKeep(base).map((r) => r.id),
    ["a", "c"],
  );
  assert.deepEqual(
    survivorsToKeep({ ...base, kind: "lost" }).map((r) => r.id),
    ["a", "c"],
  );
  assert.deepEqual(survivorsToKeep({ ...base, partial: false }), [], "off by default: whole-job recovery");
  assert.deepEqual(survivorsToKeep({ ...base, kind: "user_error" }), [], "a failing run restarts as one");
  assert.deepEqual(survivorsToKeep({ ...base, next: "FAILED" }), [], "a job out of restarts keeps nothing");
  assert.deepEqual(survivorsToKeep({ ...base, lost: undefined }), [], "nothing known lost");
  assert.deepEqual(survivorsToKeep({ ...base, lost: ["zzz"] }), [], "every node still live: not understood");
  assert.deepEqual(survivorsToKeep({ ...base, lost: ["a", "b", "c"] }), [], "no survivor");
  assert.deepEqual(survivorsToKeep({ ...base, numNodes: 1, live: [row("a", 0)], lost: ["a"] }), []);
  // The lost node's row may already be ended: the live ones are all survivors.
  assert.deepEqual(
    survivorsToKeep({ ...base, live: [row("a", 0), row("c", 2)] }).map((r) => r.id),
    ["a", "c"],
  );
});

test("partial: the new instances take the nodes no kept one holds; kept nodes must fit the plan's market", () => {
  assert.deepEqual(nodesToLaunch(4, [0, 2, 3]), [1]);
  assert.deepEqual(nodesToLaunch(3, [1, 2]), [0]);
  assert.deepEqual(nodesToLaunch(3, []), [0, 1, 2]);
  assert.equal(keptFitPlan([row("a", 0)], { spot: true, instanceTypes: ["t"] }), true);
  assert.equal(keptFitPlan([row("a", 0)], { spot: true, instanceTypes: [] }), true);
  assert.equal(keptFitPlan([row("a", 0)], { spot: false, instanceTypes: ["t"] }), false, "moved to on-demand");
  assert.equal(keptFitPlan([row("a", 0)], { spot: true, instanceTypes: ["u"] }), false, "another type");
});

test("partial: a gone verdict names the nodes lost, reclaimed or not found", () => {
  const seen = (patch: Parameters<typeof fakeInstanceInfo>[0]) => ({
    kind: "seen" as const,
    info: fakeInstanceInfo(patch),
    at: 0,
  });
  const r = lostNodes(
    ["i-a", "i-b", "i-c", "i-d"],
    [
      seen({ id: "i-a" as never, status: "running" }),
      seen({ id: "i-b" as never, status: "running", interrupted: { reason: "reclaimed", at: 0 } }),
      { kind: "gone", since: 0 },
      seen({ id: "i-d" as never, status: "terminated" }),
    ],
  );
  assert.deepEqual(r.lost, ["i-b", "i-c", "i-d"]);
  assert.equal(r.seen[2], undefined);
});

test("partial: no warm replacement by default; both asked for, or with a strategy that moves the job, is a clear error", () => {
  assert.equal(
    replacesOnNotice(fakeTask({ num_nodes: 3, resources: { provider: "local", spot: true }, recovery: { partial: true } })),
    false,
  );
  assert.throws(
    () => fakeTask({ num_nodes: 3, recovery: { partial: true, replace_on_notice: true } }),
    /recovery\.partial replaces only the lost nodes.*choose one/,
  );
  assert.throws(
    () => fakeTask({ num_nodes: 3, recovery: { partial: true, prelaunch_on_rebalance: true } }),
    /prelaunch_on_rebalance launches the whole job.*choose one/,
  );
  assert.throws(
    () => fakeTask({ num_nodes: 3, recovery: { partial: true, strategy: "failover" } }),
    /strategy failover chooses each attempt's market/,
  );
});
