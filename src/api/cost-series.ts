import { toIso } from "../base/clock.js";
import { type Billable, summarize } from "../cost/ledger.js";

/**
 * Spend and the on-demand baseline over time, cumulative, at `points` evenly spaced times from the
 * first launch to now (the dashboard's cost chart). Each point is the ledger as of that time, so
 * the last one is what `spotrun cost` prints.
 */
export function costSeries(instances: Billable[], now: number, points = 60) {
  if (instances.length === 0) return [];
  const start = Math.min(...instances.map((i) => i.launched_at));
  const span = Math.max(1, now - start);
  const out: { at: string; cost_usd: number; on_demand_baseline_usd: number }[] = [];
  for (let k = 0; k <= points; k++) {
    const t = start + Math.round((span * k) / points);
    const asOf = instances
      .filter((i) => i.launched_at <= t)
      .map((i) => ({ ...i, ended_at: i.ended_at !== null && i.ended_at < t ? i.ended_at : t }));
    const s = summarize(asOf, t);
    out.push({ at: toIso(t), cost_usd: s.cost_usd, on_demand_baseline_usd: s.on_demand_baseline_usd });
  }
  return out;
}
