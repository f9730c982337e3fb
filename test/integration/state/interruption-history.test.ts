import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { InterruptionHistory } from "../../../src/core/interruption-history.js";
import type { Offer } from "../../../src/providers/provider.js";
import { openStateStore } from "../../../src/state/open-state-store.js";
import type { StateStore } from "../../../src/state/state-store.js";
import { recordAttempt } from "../../support-state/history-rows.js";

/**
 * The controller's read of the history: once per provider and set of types per minute, whatever
 * the number of launches, narrowed to the offers' types, and fresh again after the minute.
 */
const H = 3_600_000;
const T0 = Date.UTC(2026, 0, 5);
const offer = (instanceType: string): Offer => ({
  provider: "local",
  id: `${instanceType}/spot`,
  instanceType,
  zone: "local-1a",
  spot: true,
  pricePerHour: 0.03,
  onDemandPricePerHour: 0.1,
});

let root: string;
let store: StateStore;
before(async () => {
  root = await mkdtemp(join(tmpdir(), "spotrun-history-cache-"));
  store = await openStateStore(join(root, "home"), "");
  await recordAttempt(store, {
    job: "a",
    idx: 0,
    end: "preempted",
    t0: T0,
    nodes: [{ zone: "local-1a", type: "local.small", spot: true, from: 0, to: 30 }],
  });
  await recordAttempt(store, {
    job: "b",
    idx: 0,
    end: "succeeded",
    t0: T0,
    nodes: [{ zone: "local-1a", type: "local.large", spot: true, from: 0, to: 5 }],
  });
});
after(async () => {
  await store.close();
  await rm(root, { recursive: true, force: true });
});

test("one read per set of types per minute; other types stay out; the next minute sees new rows", async () => {
  let now = T0 + 40 * H;
  const history = new InterruptionHistory(store, () => now, { minHours: 10 });
  const first = await history.forOffers([offer("local.small"), offer("local.medium")]);
  assert.deepEqual(
    first.pools.map((p) => [p.instanceType, p.preemptions, p.exposureMs / H]),
    [["local.small", 1, 30]],
  );
  assert.deepEqual([first.minHours, first.priorHours], [10, 24]);
  await recordAttempt(store, {
    job: "c",
    idx: 0,
    end: "preempted",
    t0: T0,
    nodes: [{ zone: "local-1a", type: "local.small", spot: true, from: 30, to: 39 }],
  });
  now += 59_000;
  // The same types in another order: the cached read, without c.
  const again = await history.forOffers([offer("local.medium"), offer("local.small")]);
  assert.equal(again, first);
  // Other types: a read of their own.
  const large = await history.forOffers([offer("local.large")]);
  assert.deepEqual(
    large.pools.map((p) => p.instanceType),
    ["local.large"],
  );
  const alone = await history.forOffers([offer("local.small")]);
  assert.equal(alone.pools[0]?.preemptions, 2, "a different set of types is a read of its own, made now");
  now += 2_000;
  const fresh = await history.forOffers([offer("local.small"), offer("local.medium")]);
  assert.notEqual(fresh, first);
  assert.equal(fresh.pools[0]?.preemptions, 2, "after the minute the read sees c");
});
