import { MIN_MEASURED_HOURS, PRIOR_HOURS } from "../placement/interruption-rate.js";
import type { RiskHistory } from "../placement/rank-offers.js";
import type { ProviderKind } from "../spec/task-schema.js";
import { poolRecords } from "../state/pool-records.js";
import type { StateStore } from "../state/state-store.js";

export interface InterruptionHistoryOptions {
  /** How long one read of a provider's pools is reused; default a minute. */
  ttlMs?: number;
  minHours?: number;
  priorHours?: number;
}

/**
 * What the store measured of each capacity pool, for the rankings the controller makes (the
 * failover walk): one grouped query per provider at most once per `ttlMs`, however many jobs
 * launch meanwhile, so a visit adds no store work of its own. A minute-old view is fresh enough:
 * rates move over hours of instance time.
 */
export class InterruptionHistory {
  private readonly cache = new Map<ProviderKind, { at: number; value: Promise<RiskHistory> }>();

  constructor(
    private readonly store: StateStore,
    private readonly now: () => number,
    private readonly opts: InterruptionHistoryOptions = {},
  ) {}

  forProvider(provider: ProviderKind): Promise<RiskHistory> {
    const now = this.now();
    const hit = this.cache.get(provider);
    if (hit && now - hit.at < (this.opts.ttlMs ?? 60_000)) return hit.value;
    const value = poolRecords(this.store, { provider, nowMs: now }).then((pools) => ({
      pools,
      minHours: this.opts.minHours ?? MIN_MEASURED_HOURS,
      priorHours: this.opts.priorHours ?? PRIOR_HOURS,
    }));
    // A failed read is not kept: the next launch asks again.
    value.catch(() => this.cache.delete(provider));
    this.cache.set(provider, { at: now, value });
    return value;
  }
}
