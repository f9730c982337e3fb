import { formatDuration } from "../base/duration.js";
import type { Offer } from "../providers/provider.js";
import { estimateRate, type RateEstimate } from "./interruption-rate.js";
import { type PoolRecord, type PoolSample, sampleFor } from "./pool-history.js";

/**
 * Offers ranked by what it should cost to finish the work on them, not by price per hour: a
 * cheap spot that is interrupted often pays for every restart. Interruptions are modelled as a
 * Poisson process of the offer's published (or assumed) rate λ per hour; each one costs a restart
 * overhead d of billed time without progress, and spotrun keeps the work done up to the notice.
 * Billed time T then solves T = W + d + λ·T·d (the first start is a restart too), so
 * T = (W + d) / (1 − λ·d), and the expected cost is price × T. When λ·d ≥ 1 the job restarts
 * faster than it progresses and never finishes: such offers go last.
 *
 * λ for a spot offer is, in order: the rate this store measured in the offer's pool once it has
 * `history.minHours` of instance time there (the Gamma–Poisson posterior of interruption-rate.ts,
 * whose prior is the next two), the provider's published rate, or the assumed one.
 */
export interface RankOptions {
  workMs: number;
  restartOverheadMs: number;
  /** λ for spot offers whose provider publishes no interruption risk. */
  assumedSpotRiskPerHour: number;
  history?: RiskHistory;
}

/** What the store saw of each pool, and how much of it makes a rate measured. */
export interface RiskHistory {
  pools: readonly PoolRecord[];
  minHours: number;
  /** The prior's weight in instance-hours (see interruption-rate.ts). */
  priorHours: number;
}

export type RiskSource = "measured" | "provider" | "assumed" | "none";

export interface RankedOffer {
  offer: Offer;
  rank: number;
  riskPerHour: number;
  riskSource: RiskSource;
  /** What the store saw of the offer's pool (any amount), when a history was given. */
  sample?: PoolSample;
  /** The posterior behind a measured rate. */
  measured?: RateEstimate;
  /** Infinity when the offer cannot finish (see above). */
  expectedBilledMs: number;
  expectedInterruptions: number;
  expectedCostUsd: number;
  why: string;
}

const HOUR = 3_600_000;

function estimate(offer: Offer, o: RankOptions): Omit<RankedOffer, "rank" | "why"> {
  const published = offer.interruptionRiskPerHour;
  const prior = published ?? o.assumedSpotRiskPerHour;
  const h = o.history;
  const sample = h ? sampleFor(offer, h.pools) : undefined;
  const measured =
    offer.spot && h && sample && sample.hours >= h.minHours
      ? estimateRate(sample, { perHour: prior, hours: h.priorHours })
      : undefined;
  const riskSource: RiskSource = !offer.spot ? "none" : measured ? "measured" : published === undefined ? "assumed" : "provider";
  const riskPerHour = !offer.spot ? 0 : (measured?.perHour ?? prior);
  const lossPerHour = riskPerHour * (o.restartOverheadMs / HOUR);
  const expectedBilledMs = lossPerHour >= 1 ? Number.POSITIVE_INFINITY : (o.workMs + o.restartOverheadMs) / (1 - lossPerHour);
  return {
    offer,
    riskPerHour,
    riskSource,
    ...(sample ? { sample } : {}),
    ...(measured ? { measured } : {}),
    expectedBilledMs,
    expectedInterruptions: (riskPerHour * expectedBilledMs) / HOUR,
    expectedCostUsd: (offer.pricePerHour * expectedBilledMs) / HOUR,
  };
}

const hoursText = (h: number) => (h >= 10 ? h.toFixed(0) : h >= 0.1 ? h.toFixed(1) : h > 0 ? h.toPrecision(2) : "0");

function sourceText(e: Pick<RankedOffer, "riskSource" | "sample">): string {
  const s = e.sample;
  if (e.riskSource === "measured" && s)
    return `measured: ${s.preemptions} preemption${s.preemptions === 1 ? "" : "s"} in ${hoursText(s.hours)} instance-hours`;
  return e.riskSource;
}

/**
 * How a row says where its rate came from: `measured (n=14, 41 h)` (instances and instance-hours
 * behind it), `assumed` or `provider`, with what little was seen when it is not yet enough.
 */
export function riskSourceLabel(r: Pick<RankedOffer, "riskSource" | "sample">): string {
  const s = r.sample;
  if (r.riskSource === "measured" && s) return `measured (n=${s.instances}, ${hoursText(s.hours)} h)`;
  if ((r.riskSource === "assumed" || r.riskSource === "provider") && s && s.hours > 0)
    return `${r.riskSource} (only ${hoursText(s.hours)} h seen)`;
  return r.riskSource;
}

const money = (usd: number) => `$${usd < 10 ? usd.toFixed(2) : usd.toFixed(0)}`;

function explain(e: Omit<RankedOffer, "rank" | "why">, o: RankOptions): string {
  const { offer } = e;
  const market = offer.spot ? "spot" : "on-demand";
  const price = `${market} at $${offer.pricePerHour.toFixed(3)}/h`;
  if (!Number.isFinite(e.expectedBilledMs))
    return `${price}, but ${(e.riskPerHour * 100).toFixed(0)}%/h interruptions × ${formatDuration(o.restartOverheadMs)} restarts leave no time for progress`;
  const risk = !offer.spot
    ? "no interruptions"
    : `${(e.riskPerHour * 100).toFixed(1)}%/h interruption risk (${sourceText(e)}) → ~${e.expectedInterruptions.toFixed(1)} restarts`;
  const onDemand = (offer.onDemandPricePerHour * (o.workMs + o.restartOverheadMs)) / HOUR;
  const saving = offer.spot && onDemand > 0 ? `, ${Math.round((1 - e.expectedCostUsd / onDemand) * 100)}% below on-demand` : "";
  return `${price}; ${risk}; ${formatDuration(e.expectedBilledMs)} billed → ${money(e.expectedCostUsd)}${saving}`;
}

export function rankOffers(offers: readonly Offer[], o: RankOptions): RankedOffer[] {
  return offers
    .map((offer) => estimate(offer, o))
    .sort(
      (a, b) => a.expectedCostUsd - b.expectedCostUsd || a.riskPerHour - b.riskPerHour || a.offer.id.localeCompare(b.offer.id),
    )
    .map((e, i) => ({ ...e, rank: i + 1, why: explain(e, o) }));
}
