import assert from "node:assert/strict";
import { test } from "node:test";
import { costSeries } from "../../../src/api/cost-series.js";
import { summarize } from "../../../src/cost/ledger.js";

test("the cost series rises from nothing to what the ledger says now, never falling", () => {
  const h = 3_600_000;
  const instances = [
    { spot: 1, price_per_hour: 0.03, od_price_per_hour: 0.1, launched_at: 0, ended_at: h },
    { spot: 1, price_per_hour: 0.03, od_price_per_hour: 0.1, launched_at: 2 * h, ended_at: null },
  ];
  const s = costSeries(instances, 4 * h, 8);
  assert.equal(s.length, 9);
  assert.deepEqual([s[0]?.cost_usd, s[0]?.on_demand_baseline_usd], [0, 0]);
  const end = summarize(instances, 4 * h);
  assert.deepEqual([s[8]?.cost_usd, s[8]?.on_demand_baseline_usd], [end.cost_usd, end.on_demand_baseline_usd]);
  assert.ok(s.every((p, i) => i === 0 || p.cost_usd >= (s[i - 1]?.cost_usd ?? 0)));
  // Between the first instance's end and the second's start nothing accrues.
  assert.equal(s[3]?.cost_usd, s[4]?.cost_usd);
  assert.deepEqual(costSeries([], 0), []);
});
