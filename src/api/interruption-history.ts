import { ASSUMED_SPOT_RISK_PER_HOUR, estimateRate, MIN_MEASURED_HOURS, PRIOR_HOURS } from "../placement/interruption-rate.js";
import { type PoolFilter, poolRecords } from "../state/pool-records.js";
import type { StateStore } from "../state/state-store.js";

export interface HistoryOptions {
  provider?: string;
  instanceType?: string;
  zone?: string;
  region?: string;
  /** Only instance time and preemptions from this time on (ms since the epoch). */
  sinceMs?: number;
  /** Instance-hours a pool needs before its measured rate is used; default 24. */
  minHours?: number;
  /** The prior: the rate assumed where nothing is known (default 5 %/h), worth `priorHours` (default 24). */
  assumedRiskPerHour?: number;
  priorHours?: number;
}

const HOUR = 3_600_000;
const round = (n: number | null, digits: number) => (n === null ? null : Math.round(n * 10 ** digits) / 10 ** digits);

/**
 * What `spotrun history --json` prints: per capacity pool, its instances, instance-hours and
 * preemptions, the rate seen, and the estimate ranking uses (posterior mean and 90 % interval), and
 * whether that estimate counts as measured yet. On-demand pools carry their hours and no rate.
 */
export async function historyDocument(store: StateStore, now: number, o: HistoryOptions = {}) {
  const prior = { perHour: o.assumedRiskPerHour ?? ASSUMED_SPOT_RISK_PER_HOUR, hours: o.priorHours ?? PRIOR_HOURS };
  const minHours = o.minHours ?? MIN_MEASURED_HOURS;
  const filter: PoolFilter = {
    nowMs: now,
    ...(o.provider !== undefined ? { provider: o.provider } : {}),
    ...(o.instanceType !== undefined ? { instanceTypes: [o.instanceType] } : {}),
    ...(o.zone !== undefined ? { zone: o.zone } : {}),
    ...(o.region !== undefined ? { region: o.region } : {}),
    ...(o.sinceMs !== undefined ? { sinceMs: o.sinceMs } : {}),
  };
  const pools = (await poolRecords(store, filter)).map((p) => {
    const hours = p.exposureMs / HOUR;
    const e = p.spot ? estimateRate({ hours, preemptions: p.preemptions }, prior) : undefined;
    return {
      // The capacity pool's name as failover spells it, and the market.
      id: `${p.provider}/${p.region ?? "-"}/${p.zone ?? "-"}/${p.instanceType}/${p.spot ? "spot" : "on-demand"}`,
      provider: p.provider,
      region: p.region,
      zone: p.zone,
      instance_type: p.instanceType,
      spot: p.spot,
      instances: p.instances,
      instance_hours: round(hours, 4),
      preemptions: p.preemptions,
      observed_rate_per_hour: e ? round(e.observedPerHour, 6) : null,
      rate_per_hour: e ? round(e.perHour, 6) : null,
      rate_low_per_hour: e ? round(e.low, 6) : null,
      rate_high_per_hour: e ? round(e.high, 6) : null,
      risk_source: !p.spot ? ("none" as const) : hours >= minHours ? ("measured" as const) : ("assumed" as const),
      first_at: new Date(p.firstAt).toISOString(),
      last_at: new Date(p.lastAt).toISOString(),
    };
  });
  return {
    since: o.sinceMs === undefined ? null : new Date(o.sinceMs).toISOString(),
    min_hours: minHours,
    prior: { rate_per_hour: prior.perHour, hours: prior.hours },
    pools,
  };
}
export type HistoryDocument = Awaited<ReturnType<typeof historyDocument>>;
