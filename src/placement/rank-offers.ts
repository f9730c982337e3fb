import { formatDuration } from "../base/duration.js";
import type { Offer } from "../providers/provider.js";

/**
 * Offers ranked by what it should cost to finish the work on them, not by price per hour: a
 * cheap spot that is interrupted often pays for every restart. Interruptions are modelled as a
 * Poisson process of the offer's published (or assumed) rate λ per hour; each one costs a restart
 * overhead d of billed time without progress, and spotrun keeps the work done up to the notice.
 * Billed time T then solves T = W + d + λ·T·d (the first start is a restart too), so
 * T = (W + d) / (1 − λ·d), and the expected cost is price × T. When λ·d ≥ 1 the job restarts
 * faster than it progresses and never finishes: such offers go last.
 */
export interface RankOptions {
  workMs: number;
  restartOverheadMs: number;
  /** λ for spot offers whose provider publishes no interruption risk. */
  assumedSpotRiskPerHour: number;
}

export interface RankedOffer {
  offer: Offer;
  rank: number;
  riskPerHour: number;
  riskSource: "provider" | "assumed" | "none";
  /** Infinity when the offer cannot finish (see above). */
  expectedBilledMs: number;
  expectedInterruptions: number;
  expectedCostUsd: number;
  why: string;
}

const HOUR = 3_600_000;

function estimate(offer: Offer, o: RankOptions): Omit<RankedOffer, "rank" | "why"> {
  const published = offer.interruptionRiskPerHour;
  const riskSource = !offer.spot ? "none" : published === undefined ? "assumed" : "provider";
  const riskPerHour = !offer.spot ? 0 : (published ?? o.assumedSpotRiskPerHour);
  const lossPerHour = riskPerHour * (o.restartOverheadMs / HOUR);
  const expectedBilledMs = lossPerHour >= 1 ? Number.POSITIVE_INFINITY : (o.workMs + o.restartOverheadMs) / (1 - lossPerHour);
  return {
    offer,
    riskPerHour,
    riskSource,
    expectedBilledMs,
    expectedInterruptions: (riskPerHour * expectedBilledMs) / HOUR,
    expectedCostUsd: (offer.pricePerHour * expectedBilledMs) / HOUR,
  };
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
    : `${(e.riskPerHour * 100).toFixed(1)}%/h interruption risk (${e.riskSource}) → ~${e.expectedInterruptions.toFixed(1)} restarts`;
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
