import assert from "node:assert/strict";
import { test } from "node:test";
import { JobId } from "../../../src/base/ids.js";
import { channelLooksLost } from "../../../src/core/reconcilers/agent-feed.js";
import { VisitQueue } from "../../../src/core/visit-queue.js";

/** A queue whose visits stay open until the test ends them, recording the order they started in. */
function harness(maxConcurrent: number, wokenReserve?: number) {
  let now = 1000;
  const started: string[] = [];
  const open = new Map<string, () => void>();
  const q = new VisitQueue({
    now: () => now,
    maxConcurrent,
    ...(wokenReserve !== undefined ? { wokenReserve } : {}),
    visit: (id) =>
      new Promise<void>((r) => {
        started.push(id);
        open.set(id, r);
      }),
  });
  const end = async (id: string) => {
    open.get(id)?.();
    open.delete(id);
    // The visit's finally, then the pump it runs.
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  const settle = () => new Promise((r) => setImmediate(r));
  return { q, started, open, end, settle, advance: (ms: number) => (now += ms), now: () => now };
}

test("a woken job is visited at once, before the pass's backlog of due jobs and beyond the full slots", async () => {
  const h = harness(2, 1);
  h.q.startPass(["a", "b", "c", "d", "z"].map(JobId));
  h.q.pump();
  assert.deepEqual(h.started, ["a", "b"], "two slots, taken in pass order");
  h.q.wake(JobId("z"));
  await h.settle();
  assert.deepEqual(h.started, ["a", "b", "z"], "the woken job takes the reserved slot, not the end of the pass");
  h.q.wake(JobId("d"));
  await h.settle();
  assert.deepEqual(h.started, ["a", "b", "z"], "the reserve is full: d waits, but at the front");
  await h.end("a");
  assert.deepEqual(h.started, ["a", "b", "z", "d"], "the freed slot goes to the woken job, not to c");
  await h.end("b");
  await h.end("z");
  assert.deepEqual(h.started, ["a", "b", "z", "d", "c"]);
});

test("a job woken during its own visit is visited again as soon as that visit ends, not at its steady interval", async () => {
  const h = harness(4);
  h.q.startPass(["a"].map(JobId));
  h.q.pump();
  h.q.wake(JobId("a"));
  await h.settle();
  assert.deepEqual(h.started, ["a"], "never two visits of one job at once");
  h.q.settle(JobId("a"), h.now() + 5000);
  await h.end("a");
  await h.settle();
  assert.deepEqual(h.started, ["a", "a"]);
  // Without news, the steady interval holds.
  h.q.settle(JobId("a"), h.now() + 5000);
  await h.end("a");
  h.q.startPass(["a"].map(JobId));
  h.q.pump();
  assert.deepEqual(h.started, ["a", "a"], "not due yet");
  h.advance(5000);
  h.q.startPass(["a"].map(JobId));
  h.q.pump();
  assert.deepEqual(h.started, ["a", "a", "a"]);
});

test("a wake for a job this controller does not hold (not in the pass) visits nothing; a forgotten job's wake is dropped", async () => {
  const h = harness(4);
  h.q.startPass(["a"].map(JobId));
  h.q.pump();
  h.q.settle(JobId("a"), h.now() + 10_000);
  await h.end("a");
  h.q.wake(JobId("other"));
  await h.settle();
  assert.deepEqual(h.started, ["a"]);
  h.q.wake(JobId("a"));
  h.q.forget(JobId("a"));
  await h.settle();
  assert.deepEqual(h.started, ["a"], "forgotten before its visit started");
  h.q.wake(JobId("a"));
  await h.settle();
  assert.deepEqual(h.started, ["a", "a"], "a wake of a job it holds does start a visit");
});

test("a failed visit's backoff is kept: it is not visited before its retry time by the pass", async () => {
  const h = harness(4);
  h.q.startPass(["a"].map(JobId));
  h.q.pump();
  h.q.retryAt(JobId("a"), h.now() + 2000);
  await h.end("a");
  h.q.startPass(["a"].map(JobId));
  h.q.pump();
  assert.deepEqual(h.started, ["a"]);
  h.advance(2000);
  h.q.startPass(["a"].map(JobId));
  h.q.pump();
  assert.deepEqual(h.started, ["a", "a"]);
});

test("an agent's channel asks for a closer look at its instance only when no channel has been up for the grace, never for an up but quiet one", () => {
  assert.equal(channelLooksLost({ up: true, downSince: 0, now: 10 * 60_000, ms: 30_000 }), false, "up, however long quiet");
  assert.equal(channelLooksLost({ up: false, downSince: 1000, now: 1000 + 29_999, ms: 30_000 }), false, "down, within the grace");
  assert.equal(channelLooksLost({ up: false, downSince: 1000, now: 1000 + 30_000, ms: 30_000 }), true, "down for the grace");
});

test("a nudge (a cancel the pass found) visits a job that waits for a later visit, and leaves a failure's backoff and a visit under way alone", async () => {
  const h = harness(4);
  h.q.startPass(["quiet", "failing", "busy"].map(JobId));
  h.q.pump();
  h.q.settle(JobId("quiet"), h.now() + 30_000);
  await h.end("quiet");
  h.q.retryAt(JobId("failing"), h.now() + 30_000);
  await h.end("failing");
  assert.deepEqual(h.started, ["quiet", "failing", "busy"]);
  h.q.nudge(JobId("quiet"));
  h.q.nudge(JobId("failing"));
  h.q.nudge(JobId("busy"));
  await h.settle();
  assert.deepEqual(h.started, ["quiet", "failing", "busy", "quiet"], "only the quiet job is visited now");
  await h.end("quiet");
  // The visit under way read its row before the news: once settled for later, the next nudge wakes it.
  h.q.settle(JobId("busy"), h.now() + 30_000);
  await h.end("busy");
  h.q.nudge(JobId("busy"));
  await h.settle();
  assert.deepEqual(h.started, ["quiet", "failing", "busy", "quiet", "busy"]);
  await h.end("busy");
  // A job due now anyway is not started out of the pass's order by a nudge.
  h.q.settle(JobId("busy"), h.now());
  h.q.nudge(JobId("busy"));
  await h.settle();
  assert.equal(h.started.length, 5, "due already: the pass takes it");
});
