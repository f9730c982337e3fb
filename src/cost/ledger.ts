/**
 * The ledger: every instance costs its hourly price × the seconds it existed. The on-demand
 * baseline prices the same seconds at the on-demand rate, and the savings are the difference.
 */
export interface Billable {
  spot: number | boolean;
  price_per_hour: number;
  od_price_per_hour: number;
  launched_at: number;
  ended_at: number | null;
}

export interface CostSummary {
  cost_usd: number;
  on_demand_baseline_usd: number;
  savings_usd: number;
  savings_pct: number;
  instance_seconds: number;
  spot_seconds: number;
}

export function instanceCost(i: Billable, now: number): { cost: number; baseline: number; seconds: number } {
  const seconds = Math.max(0, ((i.ended_at ?? now) - i.launched_at) / 1000);
  return { cost: (i.price_per_hour * seconds) / 3600, baseline: (i.od_price_per_hour * seconds) / 3600, seconds };
}

export function summarize(instances: Billable[], now: number): CostSummary {
  let cost = 0;
  let baseline = 0;
  let seconds = 0;
  let spotSeconds = 0;
  for (const i of instances) {
    const c = instanceCost(i, now);
    cost += c.cost;
    baseline += c.baseline;
    seconds += c.seconds;
    if (i.spot) spotSeconds += c.seconds;
  }
  const round = (x: number) => Math.round(x * 1e6) / 1e6;
  return {
    cost_usd: round(cost),
    on_demand_baseline_usd: round(baseline),
    savings_usd: round(baseline - cost),
    savings_pct: baseline > 0 ? Math.round(((baseline - cost) / baseline) * 1000) / 10 : 0,
    instance_seconds: Math.round(seconds),
    spot_seconds: Math.round(spotSeconds),
  };
}

/** The one money format a person sees, everywhere: dollars to four places (`$0.0123`), since spot jobs often cost cents. */
export const formatUsd = (x: number): string => `${x < 0 ? "-" : ""}$${Math.abs(x).toFixed(4)}`;

/** The one percent format: one decimal place (`72.5%`). */
export const formatPct = (x: number): string => `${x.toFixed(1)}%`;
