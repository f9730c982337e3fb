import type { Offer } from "../providers/provider.js";

/** The same type in the same place, bought on-demand: what a spot offer falls back to. */
export function onDemandVariant(offer: Offer): Offer {
  if (!offer.spot) return offer;
  const { interruptionRiskPerHour: _risk, ...rest } = offer;
  return { ...rest, id: `${offer.id}:on-demand`, spot: false, pricePerHour: offer.onDemandPricePerHour };
}

/**
 * A spot capacity pool: one instance type in one zone. Preemptions and shortages are correlated
 * within a pool, so failover blocks the pool, and another type in the same zone stays eligible.
 */
export const capacityPool = (o: Offer): string => `${o.provider}/${o.region ?? "-"}/${o.zone ?? "-"}/${o.instanceType}`;
