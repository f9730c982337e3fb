import assert from "node:assert/strict";
import { test } from "node:test";
import { candidateOffers } from "../../../src/placement/candidate-offers.js";
import type { PoolRecord } from "../../../src/placement/pool-history.js";
import { type RankedOffer, rankOffers, riskSourceLabel } from "../../../src/placement/rank-offers.js";
import type { Offer } from "../../../src/providers/provider.js";

const HOUR = 3_600_000;
const offer = (id: string, spot: boolean, price: number, risk?: number, zone = "us-west-2a"): Offer => ({
  provider: "aws",
  id,
  instanceType: "p3.2xlarge",
  region: "us-west-2",
  zone,
  spot,
  pricePerHour: price,
  onDemandPricePerHour: 3,
  ...(risk === undefined ? {} : { interruptionRiskPerHour: risk }),
});
// 10 h of work, 30 min restarts.
const opts = { workMs: 10 * HOUR, restartOverheadMs: HOUR / 2, assumedSpotRiskPerHour: 0.1 };

test("expected cost counts restarts: T = (W + d) / (1 − λd)", () => {
  const [r] = rankOffers([offer("a", true, 1, 0.2)], opts);
  // λd = 0.1 → T = 10.5 / 0.9 = 11.67 h; 2.33 expected interruptions; $11.67.
  assert.ok(r);
  assert.ok(Math.abs(r.expectedBilledMs / HOUR - 10.5 / 0.9) < 1e-9);
  assert.ok(Math.abs(r.expectedCostUsd - 10.5 / 0.9) < 1e-9);
  assert.ok(Math.abs(r.expectedInterruptions - (0.2 * 10.5) / 0.9) < 1e-9);
  assert.match(
    r.why,
    /spot at \$1\.000\/h; 20\.0%\/h interruption risk \(provider\) → ~2\.3 restarts; 11h40m billed → \$12, 63% below on-demand/,
  );
});

test("a cheap spot that is interrupted often ranks below a steadier one and even on-demand", () => {
  const ranked = rankOffers(
    [offer("flaky", true, 0.9, 1.5), offer("steady", true, 1.0, 0.01), offer("od", false, 3), offer("doomed", true, 0.1, 2)],
    opts,
  );
  assert.deepEqual(
    ranked.map((r) => [r.rank, r.offer.id]),
    [
      [1, "steady"],
      [2, "od"],
      [3, "flaky"],
      [4, "doomed"],
    ],
  );
  // flaky: λd = 0.75 → 42 h billed, $37.80 > on-demand's 10.5 h × $3; doomed: λd = 1, it never finishes.
  assert.ok(Math.abs((ranked[2]?.expectedCostUsd ?? 0) - 0.9 * 42) < 1e-9);
  assert.equal(ranked[3]?.expectedCostUsd, Number.POSITIVE_INFINITY);
  assert.match(ranked[3]?.why ?? "", /leave no time for progress/);
  assert.match(ranked[1]?.why ?? "", /on-demand at \$3\.000\/h; no interruptions/);
});

test("spot offers without a published risk use the assumed one and say so", () => {
  const [r] = rankOffers([offer("x", true, 1)], opts);
  assert.equal(r?.riskSource, "assumed");
  assert.equal(r?.riskPerHour, 0.1);
  assert.match(r?.why ?? "", /\(assumed\)/);
});

test("candidate offers follow the task's spot and fallback settings", () => {
  const offers = [
    offer("a", true, 1),
    offer("b", true, 1.1, undefined, "us-west-2b"),
    offer("b-od", false, 3, undefined, "us-west-2b"),
  ];
  const ids = (spot: boolean, fallback_on_demand: boolean) =>
    candidateOffers(offers, { spot, fallback_on_demand }).map((o) => o.id);
  assert.deepEqual(ids(true, false), ["a", "b"]);
  // The listed on-demand offer of zone b is used; zone a gets a derived one at the on-demand price.
  assert.deepEqual(ids(true, true), ["a", "a:on-demand", "b", "b-od"]);
  assert.deepEqual(ids(false, false), ["a:on-demand", "b-od"]);
  const derived = candidateOffers(offers, { spot: false, fallback_on_demand: false })[0];
  assert.deepEqual([derived?.spot, derived?.pricePerHour, derived?.interruptionRiskPerHour], [false, 3, undefined]);
});

const pool = (over: Partial<PoolRecord>): PoolRecord => ({
  provider: "aws",
  region: "us-west-2",
  zone: "us-west-2a",
  instanceType: "p3.2xlarge",
  spot: true,
  instances: 10,
  exposureMs: 100 * HOUR,
  preemptions: 30,
  firstAt: 0,
  lastAt: 100 * HOUR,
  ...over,
});
const history = (pools: ReturnType<typeof pool>[], minHours = 24) => ({ ...opts, history: { pools, minHours, priorHours: 24 } });

test("a spot pool with enough instance-hours ranks by its measured rate and says so, with its sample", () => {
  // 30 preemptions in 100 h of a pool whose offer publishes 2 %/h: the posterior (0.48 + 30) / 124.
  const [r] = rankOffers([offer("a", true, 1, 0.02)], history([pool({})]));
  assert.equal(r?.riskSource, "measured");
  assert.ok(Math.abs((r?.riskPerHour ?? 0) - (0.02 * 24 + 30) / 124) < 1e-12);
  assert.deepEqual(r?.sample, { instances: 10, hours: 100, preemptions: 30 });
  assert.ok(r?.measured && r.measured.low < r.riskPerHour && r.riskPerHour < r.measured.high);
  assert.match(r?.why ?? "", /interruption risk \(measured: 30 preemptions in 100 instance-hours\)/);
  assert.equal(riskSourceLabel(r as RankedOffer), "measured (n=10, 100 h)");
});

test("too few instance-hours keep the published or assumed rate, and the row says how little was seen", () => {
  const thin = history([pool({ exposureMs: 3 * HOUR, preemptions: 2 })]);
  const [pub] = rankOffers([offer("a", true, 1, 0.02)], thin);
  assert.equal(pub?.riskSource, "provider");
  assert.equal(pub?.riskPerHour, 0.02);
  assert.equal(riskSourceLabel(pub as RankedOffer), "provider (only 3.0 h seen)");
  const [none] = rankOffers([offer("a", true, 1)], thin);
  assert.equal(none?.riskSource, "assumed");
  assert.equal(none?.riskPerHour, 0.1);
  // What counts as enough is the caller's.
  assert.equal(rankOffers([offer("a", true, 1)], history(thin.history.pools, 2))[0]?.riskSource, "measured");
  assert.equal(riskSourceLabel(rankOffers([offer("a", true, 1)], opts)[0] as RankedOffer), "assumed");
});

test("a pool measured as flaky drops below a steadier one; another zone's or market's record does not apply", () => {
  const offers = [offer("cheap", true, 1, undefined, "us-west-2a"), offer("dear", true, 1.3, undefined, "us-west-2b")];
  assert.deepEqual(
    rankOffers(offers, opts).map((r) => r.offer.id),
    ["cheap", "dear"],
  );
  // 120 preemptions in 200 h in zone a; zone b's 200 quiet hours.
  const h = history([
    pool({ exposureMs: 200 * HOUR, preemptions: 120 }),
    pool({ zone: "us-west-2b", exposureMs: 200 * HOUR, preemptions: 0 }),
  ]);
  const ranked = rankOffers(offers, h);
  assert.deepEqual(
    ranked.map((r) => [r.offer.id, r.riskSource]),
    [
      ["dear", "measured"],
      ["cheap", "measured"],
    ],
  );
  // Another type, or the on-demand market, in the same zone: not this offer's pool.
  const [other] = rankOffers([offer("a", true, 1)], history([pool({ instanceType: "g5.xlarge" }), pool({ spot: false })]));
  assert.equal(other?.riskSource, "assumed");
  assert.equal(other?.sample, undefined);
  // An on-demand offer has no interruption risk, but it carries what was seen of its pool.
  const [od] = rankOffers([offer("od", false, 3)], history([pool({ spot: false, preemptions: 0 })]));
  assert.deepEqual([od?.riskSource, od?.riskPerHour, od?.sample?.hours], ["none", 0, 100]);
});

test("an offer with a region but no zone reads all of that region's zones together", () => {
  const { zone: _zone, ...regional } = offer("r", true, 1);
  const [r] = rankOffers(
    [regional],
    history([
      pool({ exposureMs: 20 * HOUR, preemptions: 4 }),
      pool({ zone: "us-west-2b", exposureMs: 20 * HOUR, preemptions: 0 }),
      pool({ region: "us-east-1", zone: "us-east-1a", exposureMs: 500 * HOUR, preemptions: 500 }),
    ]),
  );
  assert.deepEqual(r?.sample, { instances: 20, hours: 40, preemptions: 4 });
  assert.equal(r?.riskSource, "measured");
});
