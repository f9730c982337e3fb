import type { Offer } from "../providers/provider.js";

/** The same type in the same place, bought on-demand: what a spot offer falls back to. */
export function onDemandVariant(offer: Offer): Offer {
  if (!offer.spot) return offer;
  const { interruptionRiskPerHour: _risk, ...rest } = offer;
  return { ...rest, id: `${offer.id}:on-demand`, spot: false, pricePerHour: offer.onDemandPricePerHour };
}

/** Where a spot market lives: preemptions are correlated within a zone, not across zones. */
export const zoneKey = (o: Offer): string => `${o.provider}/${o.region ?? "-"}/${o.zone ?? "-"}/${o.instanceType}`;
