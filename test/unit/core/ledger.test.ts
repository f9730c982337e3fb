import assert from "node:assert/strict";
import { test } from "node:test";
import { summarize } from "../../../src/cost/ledger.js";

test("cost is price × seconds; the baseline prices the same seconds on demand", () => {
  const h = 3_600_000;
  const s = summarize(
    [
      { spot: 1, price_per_hour: 0.92, od_price_per_hour: 3.06, launched_at: 0, ended_at: 2 * h },
      { spot: 0, price_per_hour: 3.06, od_price_per_hour: 3.06, launched_at: 2 * h, ended_at: null },
    ],
    3 * h,
  );
  assert.equal(s.cost_usd, 0.92 * 2 + 3.06);
  assert.equal(s.on_demand_baseline_usd, 3.06 * 3);
  assert.equal(s.savings_usd, Math.round((3.06 * 3 - (0.92 * 2 + 3.06)) * 1e6) / 1e6);
  assert.equal(s.spot_seconds, 7200);
  assert.equal(s.instance_seconds, 10800);
});
