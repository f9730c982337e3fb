import type { Offer } from "../providers/provider.js";

/**
 * What a store saw of one capacity pool (provider, region, zone, instance type, market): its
 * instances, their instance-time, and the preemptions among them. The state store computes these;
 * placement only reads them.
 */
export interface PoolRecord {
  provider: string;
  region: string | null;
  zone: string | null;
  instanceType: string;
  spot: boolean;
  instances: number;
  exposureMs: number;
  preemptions: number;
  /** First launch and last end (or now, for a live instance) seen in the pool. */
  firstAt: number;
  lastAt: number;
}

export interface PoolSample {
  instances: number;
  hours: number;
  preemptions: number;
}

const HOUR = 3_600_000;

/**
 * The record of the pool an offer launches into: the same provider, type and market, in the
 * offer's zone when it names one, else in its region (all of that region's zones together), else
 * anywhere. Undefined when nothing was ever seen there.
 */
export function sampleFor(offer: Offer, pools: readonly PoolRecord[]): PoolSample | undefined {
  const match = pools.filter(
    (p) =>
      p.provider === offer.provider &&
      p.instanceType === offer.instanceType &&
      p.spot === offer.spot &&
      (offer.zone ? p.zone === offer.zone : offer.region ? p.region === offer.region : true),
  );
  if (match.length === 0) return undefined;
  return {
    instances: match.reduce((n, p) => n + p.instances, 0),
    hours: match.reduce((n, p) => n + p.exposureMs, 0) / HOUR,
    preemptions: match.reduce((n, p) => n + p.preemptions, 0),
  };
}
