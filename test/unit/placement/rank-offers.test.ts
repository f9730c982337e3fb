import assert from "node:assert/strict";
import { test } from "node:test";
import { candidateOffers } from "../../../src/placement/candidate-offers.js";
import { rankOffers } from "../../../src/placement/rank-offers.js";
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
