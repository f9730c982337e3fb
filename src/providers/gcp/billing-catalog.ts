import type { CloudCatalogClient, protos } from "@google-cloud/billing";
import type { GcpPriceEntry } from "./gcp-price-catalog.js";

/**
 * Compute Engine VM prices from the Cloud Billing Catalog API. Google prices a predefined VM as
 * its vCPUs times the family's per-core rate plus its memory times the per-GiB rate, each SKU
 * named like "N2 Instance Core running in Americas" (on-demand) or "Spot Preemptible N2 Instance
 * Ram running in Americas" (spot), listing the regions it applies to. Machine types whose price is
 * not cores and memory alone (GPU shapes, TPUs) are not priced here: the shipped figures stay.
 */
export const COMPUTE_SERVICE = "services/6F81-5844-456A";

type Sku = protos.google.cloud.billing.v1.ISku;
type Resource = "core" | "ram";
type Market = "on_demand" | "spot";

/** Families priced per core and GiB, as their SKUs name them. */
const FAMILIES: Record<string, string> = { e2: "E2", n2: "N2", n1: "N1 Predefined", c3: "C3" };
const SKU = /^(Spot Preemptible )?(E2|N2|N1 Predefined|C3) Instance (Core|Ram) running in /;

export interface SkuRate {
  family: string;
  resource: Resource;
  market: Market;
  regions: string[];
  usdPerHour: number;
}

/** The rate a SKU sets, if it is one of a priced family's core or RAM rates in USD. */
export function skuRate(sku: Sku): SkuRate | undefined {
  const m = SKU.exec(sku.description ?? "");
  if (!m || sku.category?.resourceFamily !== "Compute") return undefined;
  const market: Market = m[1] ? "spot" : "on_demand";
  // The description and the usage type must agree (commitments and sole-tenancy have their own).
  if (sku.category.usageType !== (market === "spot" ? "Preemptible" : "OnDemand")) return undefined;
  const family = Object.keys(FAMILIES).find((k) => FAMILIES[k] === m[2]);
  const expr = sku.pricingInfo?.at(-1)?.pricingExpression;
  const rate = expr?.tieredRates?.find((t) => Number(t.startUsageAmount ?? 0) === 0) ?? expr?.tieredRates?.[0];
  const price = rate?.unitPrice;
  if (!family || !price || (price.currencyCode && price.currencyCode !== "USD")) return undefined;
  const resource: Resource = m[3] === "Core" ? "core" : "ram";
  if (expr?.usageUnit !== (resource === "core" ? "h" : "GiBy.h")) return undefined;
  return {
    family,
    resource,
    market,
    regions: sku.serviceRegions ?? [],
    usdPerHour: Number(price.units ?? 0) + (price.nanos ?? 0) / 1e9,
  };
}

/** vCPUs and GiB of a predefined standard machine type of a priced family. */
export function machineShape(type: string): { family: string; vcpus: number; memGib: number } | undefined {
  const m = /^(e2|n2|c3|n1)-standard-(\d+)$/.exec(type);
  if (!m) return undefined;
  const family = m[1] as string;
  const vcpus = Number(m[2]);
  return { family, vcpus, memGib: vcpus * (family === "n1" ? 3.75 : 4) };
}

export interface FetchedPrices {
  vm: Record<string, Record<string, GcpPriceEntry>>;
  /** `region/type` that could not be priced from the API (no shape, or a rate missing). */
  missing: string[];
  skusRead: number;
}

export async function fetchGcpVmPrices(
  client: CloudCatalogClient,
  regions: string[],
  types: (region: string) => string[],
): Promise<FetchedPrices> {
  const rates = new Map<string, number>();
  let skusRead = 0;
  for await (const sku of client.listSkusAsync({ parent: COMPUTE_SERVICE, currencyCode: "USD" })) {
    skusRead++;
    const r = skuRate(sku);
    if (!r) continue;
    for (const region of r.regions) rates.set(`${region}/${r.family}/${r.market}/${r.resource}`, r.usdPerHour);
  }
  const vm: FetchedPrices["vm"] = {};
  const missing: string[] = [];
  for (const region of regions)
    for (const type of types(region)) {
      const shape = machineShape(type);
      const price = (market: Market) => {
        if (!shape) return undefined;
        const core = rates.get(`${region}/${shape.family}/${market}/core`);
        const ram = rates.get(`${region}/${shape.family}/${market}/ram`);
        return core === undefined || ram === undefined ? undefined : round6(shape.vcpus * core + shape.memGib * ram);
      };
      const onDemand = price("on_demand");
      const spot = price("spot");
      if (onDemand === undefined || spot === undefined) {
        missing.push(`${region}/${type}`);
        continue;
      }
      vm[region] ??= {};
      (vm[region] as Record<string, GcpPriceEntry>)[type] = { on_demand: onDemand, spot };
    }
  return { vm, missing, skusRead };
}

const round6 = (x: number) => Math.round(x * 1e6) / 1e6;
