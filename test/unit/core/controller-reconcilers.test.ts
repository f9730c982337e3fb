import assert from "node:assert/strict";
import { test } from "node:test";
import { FakeClock } from "../../../src/base/clock.js";
import { ExternalError } from "../../../src/base/errors.js";
import { JobId } from "../../../src/base/ids.js";
import { silentLogger } from "../../../src/base/logger.js";
import { Controller } from "../../../src/core/controller.js";
import { storeId } from "../../../src/core/store-id.js";
import { TAG } from "../../../src/providers/provider.js";
import { SPARE_ATTEMPT } from "../../../src/state/schema.js";
import type { StateStore } from "../../../src/state/state-store.js";
import { FakeProvider, fakeTask, jobRow, OneProvider, tempStore } from "../../support/fake-provider.js";

const J1 = JobId("j-1");
const J2 = JobId("j-2");
const J3 = JobId("j-3");

/** Let the visits a tick started run to their end (they chain on promises, not on the clock). */
const settle = () => new Promise((r) => setTimeout(r, 30));

async function harness(fail?: () => Error | undefined, maxConcurrentVisits?: number) {
  const box = await tempStore();
  const clock = new FakeClock();
  const provider = new FakeProvider(() => clock.now());
  const controller = new Controller({
    store: box.store,
    providers: new OneProvider(provider, fail),
    home: box.home,
    clock,
    logger: silentLogger,
    reapEveryMs: 3_600_000,
    ...(maxConcurrentVisits ? { maxConcurrentVisits } : {}),
  });
  assert.equal(await controller.acquire(), true);
  const pass = async (ms = 1000) => {
    await controller.tick();
    await settle();
    await clock.advance(ms);
  };
  return { ...box, clock, provider, controller, pass };
}

/** A warm replacement for j-1's next attempt that this controller does not know of: tagged, recorded nowhere. */
async function rentSpare(h: Awaited<ReturnType<typeof harness>>): Promise<string> {
  const spare = await h.provider.launch({
    token: "spare",
    instanceTypes: ["x"],
    spot: true,
    count: 1,
    tags: { [TAG.managed]: storeId(h.home), [TAG.job]: "j-1", [TAG.attempt]: "1" },
    resources: {} as never,
  });
  return spare.kind === "launched" ? (spare.instances[0]?.id as string) : "";
}

const kinds = async (store: StateStore, id: JobId) => (await store.events(id)).map((e) => e.kind);

test("a PENDING job is launched once, with its attempt's idempotency key and this store's tag, and recorded", async () => {
  const h = await harness();
  try {
    const task = fakeTask({ resources: { provider: "local", spot: true } });
    await h.store.insertJob(jobRow("j-1", task, h.clock.now()));
    await h.pass();
    const launches = h.provider.calls.filter((c) => c.method === "launch");
    assert.equal(launches.length, 1);
    const req = launches[0]?.args as { token: string; tags: Record<string, string>; spot: boolean };
    assert.equal(req.tags[TAG.managed], storeId(h.home));
    assert.equal(req.tags[TAG.attempt], "0");
    assert.equal(req.spot, true);
    const job = await h.store.job(J1);
    assert.equal(job?.state, "SETTING_UP");
    assert.equal((await h.store.instances({ jobId: J1 })).length, 1);
    assert.deepEqual(
      (await kinds(h.store, J1)).filter((k) => k !== "state_changed"),
      ["attempt_started", "instance_launched"],
    );
  } finally {
    await h.close();
  }
});

test("a spot refusal with fallback_on_demand asks again for on-demand in the same attempt", async () => {
  const h = await harness();
  try {
    h.provider.launchAnswers.push({
      kind: "refused",
      refusal: "capacity",
      code: "InsufficientInstanceCapacity",
      message: "none",
    });
    const task = fakeTask({ resources: { provider: "local", spot: true, fallback_on_demand: true } });
    await h.store.insertJob(jobRow("j-1", task, h.clock.now()));
    await h.pass();
    const launches = h.provider.calls.filter((c) => c.method === "launch").map((c) => c.args as { spot: boolean; token: string });
    assert.deepEqual(
      launches.map((l) => l.spot),
      [true, false],
    );
    assert.match(launches[1]?.token ?? "", /-od$/);
    assert.equal((await h.store.attempt(J1, 0))?.spot, false);
    assert.ok((await kinds(h.store, J1)).includes("fallback_on_demand"));
  } finally {
    await h.close();
  }
});

test("a reclaimed instance ends its attempt as a preemption, is terminated and recorded, and the next attempt launches at once", async () => {
  const h = await harness();
  try {
    const task = fakeTask({ resources: { provider: "local", spot: true } });
    await h.store.insertJob(jobRow("j-1", task, h.clock.now()));
    await h.pass();
    // The agent is running on it (bootstrap is another reconciler's test).
    await h.store.updateAttempt(J1, 0, { agent_started: true, last_heartbeat: h.clock.now() });
    await h.store.updateJob(J1, { state: "RUNNING" });
    const [first] = await h.store.instances({ jobId: J1 });
    const info = h.provider.instances.get(first?.id as string);
    assert.ok(info);
    h.provider.instances.set(info.id, { ...info, interrupted: { reason: "outbid", at: h.clock.now() } });
    await h.clock.advance(10_000); // the next listing sees it
    await h.pass();
    const a0 = await h.store.attempt(J1, 0);
    assert.equal(a0?.end_kind, "preempted");
    assert.equal(a0?.end_detail, "outbid");
    const job = await h.store.job(J1);
    assert.equal(job?.preemptions, 1);
    assert.equal(job?.attempt, 1, "the next attempt started in the same visit");
    await settle();
    assert.ok(h.provider.calls.some((c) => c.method === "terminate" && (c.args as string[]).includes(info.id)));
    const rows = await h.store.instances({ jobId: J1, attempt: 0 });
    assert.equal(rows[0]?.end_reason, "preempted");
  } finally {
    await h.close();
  }
});

test("a bug fails the job once with 'this is a bug in spotrun', not a retry loop", async () => {
  let calls = 0;
  const h = await harness(() => {
    calls++;
    return new TypeError("Cannot read properties of undefined (reading 'kind')");
  });
  try {
    await h.store.insertJob(jobRow("j-1", fakeTask(), h.clock.now()));
    for (let i = 0; i < 5; i++) await h.pass();
    const job = await h.store.job(J1);
    assert.equal(job?.state, "FAILED");
    assert.match(job?.message ?? "", /^this is a bug in spotrun \(job j-1 in PENDING: Cannot read properties/);
    assert.equal(calls, 2, "one visit and the first reaper pass; no retries");
  } finally {
    await h.close();
  }
});

test("a job failed by a bug ends its attempt's instance and the spare for its next attempt too", async () => {
  let bugNow = false;
  const h = await harness(() => {
    if (!bugNow) return undefined;
    bugNow = false;
    return new TypeError("Cannot read properties of undefined (reading 'kind')");
  });
  try {
    await h.store.insertJob(jobRow("j-1", fakeTask({ resources: { provider: "local", spot: true } }), h.clock.now()));
    await h.pass();
    const spareId = await rentSpare(h);
    bugNow = true;
    await h.clock.advance(10_000);
    await h.pass();
    await settle();
    assert.equal((await h.store.job(J1))?.state, "FAILED");
    const live = [...h.provider.instances.values()].filter((i) => i.status !== "terminated").map((i) => i.id);
    assert.deepEqual(live, [], `left running: ${live.join(", ")} (the spare was ${spareId})`);
    const spareRow = (await h.store.instances({ jobId: J1 })).find((r) => r.id === spareId);
    assert.deepEqual([spareRow?.attempt, spareRow?.end_reason], [SPARE_ATTEMPT, "failed with its job"]);
  } finally {
    await h.close();
  }
});

test("a retryable failure is retried with growing backoff, then fails the job clearly after the retry window", async () => {
  let calls = 0;
  const h = await harness(() => {
    calls++;
    return new ExternalError("ec2", "RequestLimitExceeded", "Request limit exceeded.", true);
  });
  try {
    await h.store.insertJob(jobRow("j-1", fakeTask(), h.clock.now()));
    for (let i = 0; i < 10; i++) await h.pass(1000);
    assert.equal((await h.store.job(J1))?.state, "PENDING");
    assert.ok(calls >= 3 && calls <= 6, `backoff spaces the tries out (${calls} in 10 s)`);
    for (let i = 0; i < 15; i++) await h.pass(60_000);
    const job = await h.store.job(J1);
    assert.equal(job?.state, "FAILED");
    assert.match(job?.message ?? "", /^gave up after 1\d min of failures: Request limit exceeded/);
  } finally {
    await h.close();
  }
});

test("the reaper settles a finished job's open instance row with the provider, and ends what no live attempt owns", async () => {
  const h = await harness();
  try {
    const task = fakeTask();
    await h.store.insertJob(jobRow("j-1", task, h.clock.now()));
    await h.pass();
    const [row] = await h.store.instances({ jobId: J1 });
    assert.ok(row);
    // The controller died between the terminate and its record, and the job was then cancelled.
    await h.provider.terminate([row.id as never]);
    await h.store.updateJob(J1, { state: "CANCELLED", ended_at: h.clock.now() });
    await h.store.updateAttempt(J1, 0, { state: "ENDED", end_kind: "cancelled" });
    // And an orphan of another (finished) attempt is still running.
    const orphan = await h.provider.launch({
      token: "orphan",
      instanceTypes: ["x"],
      spot: true,
      count: 1,
      tags: { [TAG.managed]: storeId(h.home), [TAG.job]: "j-1", [TAG.attempt]: "7" },
      resources: {} as never,
    });
    const orphanId = orphan.kind === "launched" ? orphan.instances[0]?.id : undefined;
    await h.clock.advance(10_000);
    const reaped = await h.controller.reap();
    assert.deepEqual(reaped, [orphanId]);
    const settled = (await h.store.instances({ jobId: J1, attempt: 0 }))[0];
    assert.equal(settled?.end_reason, "ended at the provider");
    assert.ok(settled?.ended_at);
    assert.equal((await h.store.instances({ live: true })).length, 0);
    assert.equal(await h.controller.reap().then((r) => r.length), 0, "a second pass finds nothing");
  } finally {
    await h.close();
  }
});

test("a cancel ends the job's spare for its next attempt too (a warm replacement the store may not know of yet)", async () => {
  const h = await harness();
  try {
    await h.store.insertJob(jobRow("j-1", fakeTask({ resources: { provider: "local", spot: true } }), h.clock.now()));
    await h.pass();
    const spareId = await rentSpare(h);
    await h.store.updateJob(J1, { desired: "cancel" });
    await h.pass();
    assert.equal((await h.store.job(J1))?.state, "CANCELLED");
    const live = [...h.provider.instances.values()].filter((i) => i.status !== "terminated").map((i) => i.id);
    assert.deepEqual(live, [], `left running: ${live.join(", ")} (the spare was ${spareId})`);
  } finally {
    await h.close();
  }
});

test("a job that ends otherwise (here: failed, out of restarts) ends the spare for its next attempt too, one this controller does not know of", async () => {
  const h = await harness();
  try {
    const task = fakeTask({ resources: { provider: "local", spot: true }, recovery: { max_restarts: 0 } });
    await h.store.insertJob(jobRow("j-1", task, h.clock.now()));
    await h.pass();
    await h.store.updateAttempt(J1, 0, { agent_started: true, last_heartbeat: h.clock.now() });
    await h.store.updateJob(J1, { state: "RUNNING" });
    // A warm replacement a killed controller rented for attempt 1: tagged, recorded nowhere.
    const spareId = await rentSpare(h);
    const [first] = await h.store.instances({ jobId: J1 });
    const info = h.provider.instances.get(first?.id as string);
    assert.ok(info);
    h.provider.instances.set(info.id, { ...info, interrupted: { reason: "outbid", at: h.clock.now() } });
    await h.clock.advance(10_000);
    await h.pass();
    assert.equal((await h.store.job(J1))?.state, "FAILED");
    await settle();
    const live = [...h.provider.instances.values()].filter((i) => i.status !== "terminated").map((i) => i.id);
    assert.deepEqual(live, [], `left running: ${live.join(", ")} (the spare was ${spareId})`);
    assert.equal((await h.store.instances({ jobId: J1 }))[0]?.end_reason, "preempted", "the attempt's own keeps its reason");
    // No attempt took the spare, but the time it ran is the job's cost.
    const spareRow = (await h.store.instances({ jobId: J1 })).find((r) => r.id === spareId);
    assert.equal(spareRow?.attempt, SPARE_ATTEMPT);
    assert.equal(spareRow?.end_reason, "failed with its job");
    assert.ok((spareRow?.ended_at ?? 0) > (spareRow?.launched_at ?? 0), "ended after it was launched: it costs");
  } finally {
    await h.close();
  }
});

test("jobs that find every launch slot taken wait in line and are woken as a slot frees, in order, instead of being visited every pass", async () => {
  const h = await harness(undefined, 4); // one launch slot
  try {
    const task = fakeTask({ resources: { provider: "local", spot: true } });
    for (const id of ["j-1", "j-2", "j-3"]) await h.store.insertJob(jobRow(id, task, h.clock.now()));
    // Launches hang until the test lets them go.
    const gates: (() => void)[] = [];
    const launch = h.provider.launch.bind(h.provider);
    h.provider.launch = (req) => new Promise<void>((r) => gates.push(r)).then(() => launch(req));
    let reads = 0;
    const job = h.store.job.bind(h.store);
    h.store.job = (id) => {
      reads++;
      return job(id);
    };
    await h.controller.tick();
    await settle();
    assert.equal(gates.length, 1, "one slot: one launch in flight");
    // Passes while the slot is taken: the two waiting jobs are not visited again.
    const before = reads;
    for (let i = 0; i < 5; i++) {
      await h.clock.advance(200);
      await h.controller.tick();
      await settle();
    }
    assert.equal(reads - before, 0, "no visit of a job waiting for the slot");
    const states = async () => Promise.all([J1, J2, J3].map(async (id) => (await h.store.job(id))?.state));
    gates.shift()?.();
    await settle();
    assert.equal(gates.length, 1, "the freed slot went to the first in line at once, with no pass in between");
    assert.deepEqual(await states(), ["SETTING_UP", "PROVISIONING", "PENDING"]);
    gates.shift()?.();
    await settle();
    gates.shift()?.();
    await settle();
    assert.deepEqual(await states(), ["SETTING_UP", "SETTING_UP", "SETTING_UP"]);
  } finally {
    await h.close();
  }
});

test("a cancel asked in the store reaches a job waiting for a later visit within a second, not at that visit", async () => {
  const h = await harness(undefined, 4); // one launch slot
  try {
    const task = fakeTask({ resources: { provider: "local", spot: true } });
    for (const id of ["j-1", "j-2"]) await h.store.insertJob(jobRow(id, task, h.clock.now()));
    const gates: (() => void)[] = [];
    const launch = h.provider.launch.bind(h.provider);
    h.provider.launch = (req) => new Promise<void>((r) => gates.push(r)).then(() => launch(req));
    await h.controller.tick();
    await settle();
    assert.equal(gates.length, 1, "j-1 launches; j-2 waits in line (its fallback visit is 30 s off)");
    await h.store.updateJob(J2, { desired: "cancel" });
    await h.clock.advance(1000);
    await h.controller.tick();
    await settle();
    assert.equal((await h.store.job(J2))?.state, "CANCELLED", "woken for the cancel");
    assert.equal((await h.store.job(J1))?.state, "PROVISIONING", "its launch still in flight");
    assert.deepEqual(await h.store.cancelRequestedIds(), [], "a cancelled job is no longer asked about");
    gates.shift()?.();
    await settle();
  } finally {
    await h.close();
  }
});
