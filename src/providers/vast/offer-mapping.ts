import type { Offer } from "../provider.js";
import type { OfferType, VastOffer } from "./wire.js";

/** `RTX 4090` ×1 → `RTX_4090:1`, the accelerators spelling a task uses. */
export const acceleratorName = (gpuName: string, count: number): string => `${gpuName.replace(/ /g, "_")}:${count}`;

/**
 * A Vast offer as a spotrun Offer. A bid (interruptible) offer is priced at its `min_bid`, the
 * least that currently wins the machine, with the on-demand `dph_total` beside it for savings.
 * Sizes go back to the units people write: GB of GPU and system RAM.
 */
export function toOffer(o: VastOffer, type: OfferType): Offer {
  const spot = type === "bid";
  const onDemand = o.dph_total;
  const price = spot ? (o.min_bid ?? onDemand) : onDemand;
  const offer: Offer = {
    provider: "vast",
    id: String(o.id),
    instanceType: acceleratorName(o.gpu_name, o.num_gpus),
    spot,
    pricePerHour: price,
    onDemandPricePerHour: onDemand,
    detail: {
      gpu_name: o.gpu_name,
      num_gpus: o.num_gpus,
      gpu_ram_gb: o.gpu_ram / 1000,
      cpu_ram_gb: o.cpu_ram === undefined ? undefined : o.cpu_ram / 1000,
      cpu_cores_effective: o.cpu_cores_effective,
      disk_space_gb: o.disk_space,
      reliability: o.reliability ?? o.reliability2,
      cuda_max_good: o.cuda_max_good,
      inet_up_mbps: o.inet_up,
      inet_down_mbps: o.inet_down,
      dlperf: o.dlperf,
      machine_id: o.machine_id,
      verification: o.verification,
      geolocation: o.geolocation ?? undefined,
      dph_total: o.dph_total,
      min_bid: o.min_bid,
    },
  };
  if (o.geolocation) offer.region = o.geolocation;
  return offer;
}

/** The CLI filters `rented` itself after the search, because the server does not apply it. */
export function applyRentedFilter(offers: VastOffer[], clause: Record<string, unknown> | undefined): VastOffer[] {
  if (!clause) return offers;
  const [op, target] = Object.entries(clause)[0] ?? [];
  if (op === undefined) return offers;
  return offers.filter((o) => {
    const rented = o.rented ?? false;
    switch (op) {
      case "eq":
        return rented === target;
      case "neq":
        return rented !== target;
      case "in":
        return Array.isArray(target) && target.map(String).includes(String(rented));
      case "notin":
        return Array.isArray(target) && !target.map(String).includes(String(rented));
      default:
        return true;
    }
  });
}
