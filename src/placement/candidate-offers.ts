import type { Offer } from "../providers/provider.js";
import type { Resources } from "../spec/task-schema.js";
import { capacityPool, onDemandVariant } from "./on-demand-variant.js";

/**
 * The offers a task may launch on: its spot offers when it asks for spot, and on-demand ones when
 * it asks for on-demand or allows falling back to it. Providers that list only spot offers still
 * get their on-demand counterpart (same type and place, the on-demand price).
 */
export function candidateOffers(offers: readonly Offer[], resources: Pick<Resources, "spot" | "fallback_on_demand">): Offer[] {
  const wantSpot = resources.spot;
  const wantOnDemand = !resources.spot || resources.fallback_on_demand;
  const listedOnDemand = new Set(offers.filter((o) => !o.spot).map(capacityPool));
  const out: Offer[] = [];
  for (const o of offers) {
    if (o.spot && wantSpot) out.push(o);
    if (!o.spot && wantOnDemand) out.push(o);
    if (o.spot && wantOnDemand && o.onDemandPricePerHour > 0 && !listedOnDemand.has(capacityPool(o))) {
      listedOnDemand.add(capacityPool(o));
      out.push(onDemandVariant(o));
    }
  }
  return out;
}
