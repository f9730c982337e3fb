import assert from "node:assert/strict";
import { test } from "node:test";
import { chooseNextPlacement, type PlacementEvent, type RecoveryConfig } from "../../../src/placement/recovery.js";
import type { Offer } from "../../../src/providers/provider.js";

const MIN = 60_000;
const offer = (zone: string, spot = true, price = 1): Offer => ({
  provider: "aws",
  id: `p3.2xlarge@${zone}${spot ? "" : ":od"}`,
  instanceType: "p3.2xlarge",
  region: "us-west-2",
  zone,
  spot,
  pricePerHour: price,
  onDemandPricePerHour: 3.06,
});
const [a, b, c] = [offer("us-west-2a"), offer("us-west-2b"), offer("us-west-2c")] as [Offer, Offer, Offer];
const cfg = (strategy: RecoveryConfig["strategy"], more: Partial<RecoveryConfig> = {}): RecoveryConfig => ({
  strategy,
  block_zone_for: 30 * MIN,
  ...more,
});
const launchedId = (p: ReturnType<typeof chooseNextPlacement>) => (p.kind === "launch" ? `${p.offer.id}/${p.spot}` : `wait`);

test("same retries the offer of the last launch", () => {
  const history: PlacementEvent[] = [
    { kind: "launched", atMs: 0, offer: b },
    { kind: "preempted", atMs: 10 * MIN, offer: b },
  ];
  const p = chooseNextPlacement({ history, offers: [a, b, c], recovery: cfg("same"), nowMs: 11 * MIN });
  assert.equal(launchedId(p), `${b.id}/true`);
  assert.equal(launchedId(chooseNextPlacement({ history: [], offers: [a, b], recovery: cfg("same"), nowMs: 0 })), `${a.id}/true`);
});

test("failover skips the just-preempted zone until block_zone_for has passed", () => {
  const history: PlacementEvent[] = [
    { kind: "launched", atMs: 0, offer: a },
    { kind: "preempted", atMs: 60 * MIN, offer: a },
  ];
  const at = (nowMs: number) => chooseNextPlacement({ history, offers: [a, b, c], recovery: cfg("failover"), nowMs });
  const p = at(61 * MIN);
  assert.equal(launchedId(p), `${b.id}/true`);
  assert.match(p.reason, /after skipping 1 blocked offer/);
  assert.equal(launchedId(at(90 * MIN)), `${a.id}/true`);
});

test("failover blocks a zone that refused for capacity, and waits when every offer is blocked", () => {
  const history: PlacementEvent[] = [
    { kind: "preempted", atMs: 0, offer: a },
    { kind: "refused", atMs: 5 * MIN, offer: b, refusal: "capacity" },
    { kind: "refused", atMs: 6 * MIN, offer: c, refusal: "price" },
  ];
  const p = chooseNextPlacement({ history, offers: [a, b, c], recovery: cfg("failover"), nowMs: 10 * MIN });
  assert.deepEqual(p.kind === "wait" ? p.untilMs : -1, 30 * MIN);
  // An on-demand offer in the preempted zone is not blocked by a spot preemption there.
  const od = offer("us-west-2a", false, 3.06);
  assert.equal(
    launchedId(chooseNextPlacement({ history, offers: [a, b, c, od], recovery: cfg("failover"), nowMs: 10 * MIN })),
    `${od.id}/false`,
  );
});

test("on_demand_after counts preemptions within the window only", () => {
  const history: PlacementEvent[] = [
    { kind: "launched", atMs: 0, offer: a },
    { kind: "preempted", atMs: 10 * MIN, offer: a },
    { kind: "launched", atMs: 11 * MIN, offer: a },
    { kind: "preempted", atMs: 100 * MIN, offer: a },
  ];
  const r = cfg("on_demand_after", { on_demand_after: 2, window: 60 * MIN });
  const p = chooseNextPlacement({ history, offers: [a, b], recovery: r, nowMs: 101 * MIN });
  assert.equal(launchedId(p), `${a.id}/true`, "only one preemption in the last hour");
  const wide = chooseNextPlacement({ history, offers: [a, b], recovery: { ...r, window: 120 * MIN }, nowMs: 101 * MIN });
  assert.equal(wide.kind, "launch");
  if (wide.kind === "launch") {
    assert.deepEqual([wide.spot, wide.offer.zone, wide.offer.pricePerHour], [false, "us-west-2a", 3.06]);
    assert.match(wide.reason, /2 preemptions ≥ 2/);
  }
});

test("deadline follows the market the deadline policy chose", () => {
  const base = { history: [], offers: [a, b], recovery: cfg("deadline"), nowMs: 0 };
  assert.equal(launchedId(chooseNextPlacement({ ...base, market: "spot" })), `${a.id}/true`);
  assert.equal(launchedId(chooseNextPlacement({ ...base, market: "on_demand" })), `${a.id}:on-demand/false`);
  assert.equal(chooseNextPlacement({ ...base, market: "idle" }).kind, "wait");
  assert.throws(() => chooseNextPlacement(base), /needs the policy's market/);
});
