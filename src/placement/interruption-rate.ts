import { gammaQuantile } from "./gamma.js";

/**
 * A pool's interruption rate from what spotrun saw of it. Preemptions are taken as a Poisson
 * process of rate λ per instance-hour; the prior on λ is a Gamma whose mean is the assumed (or the
 * provider's published) rate and whose weight is `hours` of instance time at that rate — the
 * default, 5 %/h worth 24 h, counts as 1.2 preemptions seen in a day. After k preemptions in T
 * instance-hours the posterior is Gamma(α₀ + k, β₀ + T) (Gamma–Poisson conjugacy), so a few hours
 * move the estimate a little and weeks of data decide it.
 */
export interface RatePrior {
  perHour: number;
  /** How many instance-hours of evidence the prior is worth (β₀). */
  hours: number;
}

export interface Exposure {
  hours: number;
  preemptions: number;
}

export interface RateEstimate {
  /** Posterior mean: what ranking uses. */
  perHour: number;
  /** 90 % credible interval of the posterior. */
  low: number;
  high: number;
  /** Preemptions per instance-hour as counted, without the prior; null before any exposure. */
  observedPerHour: number | null;
}

export const ASSUMED_SPOT_RISK_PER_HOUR = 0.05;
export const PRIOR_HOURS = 24;
/** A pool counts as measured once it has this many instance-hours; below that the prior is used as is. */
export const MIN_MEASURED_HOURS = 24;

export function estimateRate(e: Exposure, prior: RatePrior): RateEstimate {
  if (!(prior.perHour >= 0 && prior.hours >= 0 && e.hours >= 0 && e.preemptions >= 0))
    throw new RangeError(`bad rate inputs: ${JSON.stringify({ e, prior })}`);
  const shape = prior.perHour * prior.hours + e.preemptions;
  const rate = prior.hours + e.hours;
  const observedPerHour = e.hours > 0 ? e.preemptions / e.hours : null;
  // No evidence at all, or a point mass at 0 (a prior of 0 and nothing seen): the prior stands.
  if (rate === 0) return { perHour: prior.perHour, low: prior.perHour, high: prior.perHour, observedPerHour };
  if (shape === 0) return { perHour: 0, low: 0, high: 0, observedPerHour };
  return {
    perHour: shape / rate,
    low: gammaQuantile(0.05, shape, rate),
    high: gammaQuantile(0.95, shape, rate),
    observedPerHour,
  };
}
