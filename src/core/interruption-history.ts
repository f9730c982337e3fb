import { MIN_MEASURED_HOURS, PRIOR_HOURS } from "../placement/interruption-rate.js";
import type { RiskHistory } from "../placement/rank-offers.js";
import type { Offer } from "../providers/provider.js";
import { poolRecords } from "../state/pool-records.js";
import type { StateStore } from "../state/state-store.js";

export interface InterruptionHistoryOptions {
  /** How long one read of a provider's pools is reused; default a minute. */
  ttlMs?: number;
  minHours?: number;
  priorHours?: number;
}

/**
 * What the store measured of the capacity pools a ranking is about, for the rankings the
 * controller makes (the failover walk): one grouped query per provider and set of instance types
 * at most once per `ttlMs`, however many jobs launch meanwhile, so a visit adds no store work of
 * its own. The read is narrowed to the offers' types, which the instances_pool index serves: the
 * whole history of a large store takes far longer (bench/history-scale), and SQLite answers on the
 * controller's thread. A minute-old view is fresh enough: rates move over hours of instance time.
 */
export class InterruptionHistory {
  private readonly cache = new Map<string, { at: number; value: Promise<RiskHistory> }>();

  constructor(
    private readonly store: StateStore,
    private readonly now: () => number,
    private readonly opts: InterruptionHistoryOptions = {},
  ) {}

  /** The record of every pool these offers could launch into. */
  forOffers(offers: readonly Offer[]): Promise<RiskHistory> {
    const now = this.now();
    const ttl = this.opts.ttlMs ?? 60_000;
    const providers = [...new Set(offers.map((o) => o.provider))].sort();
    const types = [...new Set(offers.map((o) => o.instanceType))].sort();
    const key = JSON.stringify([providers, types]);
    const hit = this.cache.get(key);
    if (hit && now - hit.at < ttl) return hit.value;
    for (const [k, v] of this.cache) if (now - v.at >= ttl) this.cache.delete(k);
    const value = Promise.all(
      providers.map((provider) => poolRecords(this.store, { provider, instanceTypes: types, nowMs: now })),
    ).then((found) => ({
      pools: found.flat(),
      minHours: this.opts.minHours ?? MIN_MEASURED_HOURS,
      priorHours: this.opts.priorHours ?? PRIOR_HOURS,
    }));
    // A failed read is not kept: the next launch asks again.
    value.catch(() => this.cache.delete(key));
    this.cache.set(key, { at: now, value });
    return value;
  }
}
