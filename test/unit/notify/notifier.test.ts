import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { FakeClock } from "../../../src/base/clock.js";
import { JobId } from "../../../src/base/ids.js";
import { silentLogger } from "../../../src/base/logger.js";
import type { Delivery, QueuedTarget } from "../../../src/notify/deliver.js";
import { Notifier } from "../../../src/notify/notifier.js";
import { notificationOf, retryDelayMs } from "../../../src/notify/notify-kinds.js";
import { Outbox } from "../../../src/notify/outbox.js";
import { openSqlite } from "../../../src/state/open-sqlite.js";
import { StateStore } from "../../../src/state/state-store.js";

let home: string;
let store: StateStore;
before(async () => {
  home = await mkdtemp(join(tmpdir(), "spotrun-notify-"));
  store = new StateStore(await openSqlite(home));
});
after(async () => {
  await store.close();
  await rm(home, { recursive: true, force: true });
});

async function insertJob(id: string, task: object, at: number): Promise<void> {
  await store.insertJob({
    id: JobId(id),
    name: id,
    task_json: JSON.stringify({ run: "x", ...task }),
    base_dir: home,
    state: "RUNNING",
    desired: "run",
    created_at: at,
    updated_at: at,
    ended_at: null,
    attempt: 0,
    preemptions: 0,
    error_restarts: 0,
    launch_failures: 0,
    spot_requests: 0,
    store_url: "file:///x",
    message: null,
    array_id: null,
    array_index: null,
    budget_warned: 0,
    not_before: 0,
    log_bytes: 0,
    policy_json: null,
  });
}

/** A stand-in receiver: each call answers as the next scripted outcome (and records what it got). */
function scripted(outcomes: ("ok" | "fail" | "hang")[]) {
  const calls: Delivery[] = [];
  const send = (_t: QueuedTarget, d: Delivery) => {
    calls.push(d);
    const o = outcomes[calls.length - 1] ?? "ok";
    return o === "ok" ? Promise.resolve() : o === "fail" ? Promise.reject(new Error("HTTP 500")) : new Promise<void>(() => {});
  };
  return { calls, send };
}

test("which events are notifications", () => {
  assert.equal(notificationOf("attempt_ended", { end: "preempted" }), "preempted");
  assert.equal(notificationOf("attempt_ended", { end: "lost" }), "preempted");
  assert.equal(notificationOf("attempt_ended", { end: "succeeded" }), undefined);
  assert.equal(notificationOf("run_started", { restart: true }), "recovered");
  assert.equal(notificationOf("run_started", { restart: false }), undefined);
  assert.equal(notificationOf("state_changed", { to: "FAILED" }), "failed");
  assert.equal(notificationOf("state_changed", { to: "OVER_BUDGET" }), "over_budget");
  assert.equal(notificationOf("state_changed", { to: "RUNNING" }), undefined);
  assert.equal(notificationOf("budget_warning", {}), "budget_warning");
  assert.equal(notificationOf("placement_decision", {}), undefined);
  assert.deepEqual([1, 2, 3, 4, 20].map(retryDelayMs), [1000, 2000, 4000, 8000, 300_000]);
});

test("a tick never waits on a delivery; failures retry with backoff under one delivery id; a restarted controller delivers what a dead one held", async () => {
  const clock = new FakeClock();
  const target = { webhook: "http://127.0.0.1:9/hook", timeout: 1000, on: ["preempted" as const] };
  await insertJob("j-a", { notify: [target] }, clock.now());
  const first = scripted(["fail", "fail", "hang"]);
  const a = new Notifier({ store, clock, logger: silentLogger, send: first.send });
  await a.tick(); // the first notifier of a store starts at the end of the log
  await store.appendEvent(JobId("j-a"), clock.now(), { kind: "run_started", attempt: 0, restart: false });
  await store.appendEvent(JobId("j-a"), clock.now(), { kind: "attempt_ended", attempt: 0, end: "preempted" });
  await a.tick();
  await new Promise((r) => setImmediate(r));
  assert.equal(first.calls.length, 1, "one notification: run_started is none, and `on` keeps preempted only");
  const id = first.calls[0]?.id as string;
  assert.match(id, /^n-\d+-0$/);
  const body = JSON.parse(first.calls[0]?.body as string) as { delivery_id: string; kind: string; job: { id: string } };
  assert.deepEqual([body.delivery_id, body.kind, body.job.id], [id, "preempted", "j-a"]);

  const outbox = new Outbox(store);
  const row = async () => (await outbox.ofJob("j-a"))[0];
  assert.equal((await row())?.attempts, 1);
  assert.equal((await row())?.next_at, clock.now() + 1000, "retried after 1 s");
  await a.tick();
  assert.equal(first.calls.length, 1, "not before its time");
  await clock.advance(1000);
  await a.tick();
  await new Promise((r) => setImmediate(r));
  assert.equal(first.calls.length, 2);
  assert.equal((await row())?.next_at, clock.now() + 2000, "then after 2 s");
  await clock.advance(2000);
  // The third try hangs: the tick still returns at once, and the delivery is held by this notifier.
  const t0 = Date.now();
  await a.tick();
  assert.ok(Date.now() - t0 < 1000, "tick returned without waiting for the receiver");
  assert.equal(first.calls.length, 3);
  assert.equal(await a.busy(), true);

  // The controller dies here. The next one's notifier leaves the delivery to its holder until the hold runs out.
  const second = scripted(["ok"]);
  const b = new Notifier({ store, clock, logger: silentLogger, send: second.send });
  await b.tick();
  assert.equal(second.calls.length, 0);
  await clock.advance(1000 + 5000 + 1);
  await b.tick();
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(
    second.calls.map((c) => c.id),
    [id],
    "the same delivery id: the receiver can drop a repeat",
  );
  assert.ok((await row())?.delivered_at, "delivered");
  assert.equal(await b.busy(), false);
});

test("cost reports every notify_every, one per period however many controllers look", async () => {
  const clock = new FakeClock();
  await insertJob("j-c", { notify: [{ command: "true", timeout: 1000 }], notify_every: 60_000 }, clock.now());
  const got = scripted([]);
  const n = new Notifier({ store, clock, logger: silentLogger, send: got.send });
  const m = new Notifier({ store, clock, logger: silentLogger, send: got.send });
  await n.tick();
  await clock.advance(30_000);
  await n.tick();
  assert.equal(got.calls.filter((c) => c.kind === "cost_report").length, 0);
  await clock.advance(31_000);
  await n.tick();
  await m.tick();
  await new Promise((r) => setImmediate(r));
  const reports = (await new Outbox(store).ofJob("j-c")).filter((r) => r.kind === "cost_report");
  assert.equal(reports.length, 1);
  assert.match(JSON.parse(reports[0]?.payload_json as string).text, /job j-c \(j-c\) is RUNNING; cost so far \$0\.0000/);
});
