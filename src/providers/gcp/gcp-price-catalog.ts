import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { errorMessage, usageError } from "../../base/errors.js";
import type { Logger } from "../../base/logger.js";
import shipped from "../../cost/catalog/gcp-prices.json" with { type: "json" };
import { parseTpuType, type TpuType } from "./tpu-types.js";

/** One list price: on-demand and spot USD per hour, and which of the two are approximations. */
export interface GcpPriceEntry {
  on_demand: number;
  spot: number;
  approximate?: ("on_demand" | "spot")[];
}

/**
 * Hourly list prices for Compute Engine machine types (per VM) and Cloud TPU generations (per
 * chip), by region: the catalog shipped in the package, overlaid entry by entry by
 * `<home>/catalog/gcp-prices.json` of the same shape, which `spotrun catalog update --provider gcp`
 * writes from the Cloud Billing Catalog API (Compute has no price API of its own).
 */
export interface GcpPriceCatalog {
  provider: "gcp";
  currency: "USD";
  source: string;
  retrieved_at: string;
  vm: Record<string, Record<string, GcpPriceEntry>>;
  tpu_per_chip: Record<string, Record<string, GcpPriceEntry>>;
}

export interface GcpPrice {
  pricePerHour: number;
  onDemandPricePerHour: number;
  approximate: boolean;
}

export const SHIPPED_GCP_CATALOG = shipped as GcpPriceCatalog;

export const userGcpCatalogPath = (home: string) => join(home, "catalog", "gcp-prices.json");

export async function loadGcpPriceCatalog(home: string): Promise<GcpPriceCatalog> {
  const path = userGcpCatalogPath(home);
  let text: string | undefined;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  let user: Partial<GcpPriceCatalog> | undefined;
  try {
    user = text === undefined ? undefined : (JSON.parse(text) as Partial<GcpPriceCatalog>);
  } catch (e) {
    throw usageError(`${path} is not valid JSON (${errorMessage(e)})`, "fix it, or delete it to use the shipped GCP prices");
  }
  if (!user || (!user.vm && !user.tpu_per_chip)) return SHIPPED_GCP_CATALOG;
  return {
    ...SHIPPED_GCP_CATALOG,
    ...(user.source ? { source: user.source } : {}),
    ...(user.retrieved_at ? { retrieved_at: user.retrieved_at } : {}),
    vm: overlay(SHIPPED_GCP_CATALOG.vm, user.vm),
    tpu_per_chip: overlay(SHIPPED_GCP_CATALOG.tpu_per_chip, user.tpu_per_chip),
  };
}

function overlay(
  base: Record<string, Record<string, GcpPriceEntry>>,
  over: Record<string, Record<string, GcpPriceEntry>> | undefined,
): Record<string, Record<string, GcpPriceEntry>> {
  const out: Record<string, Record<string, GcpPriceEntry>> = {};
  for (const [region, types] of Object.entries(base)) out[region] = { ...types };
  for (const [region, types] of Object.entries(over ?? {})) out[region] = { ...(out[region] ?? {}), ...types };
  return out;
}

/**
 * Chips in a TPU slice, the unit TPUs are priced in. The number after the dash counts
 * TensorCores for v2, v3, v4 and v5p, which have 2 TensorCores per chip (Cloud TPU pricing:
 * "there are 2 cores in each chip" for v4), so `v4-32` is 16 chips; v5e (`v5litepod`) and v6e
 * have one TensorCore per chip and count chips, so `v5litepod-8` is 8.
 */
export function tpuChips(t: TpuType): number {
  return t.generation === "v5litepod" || t.generation === "v6e" ? t.size : Math.max(1, t.size / 2);
}

/**
 * The hourly price of one VM of `machineType`, or of a whole TPU slice (`v5litepod-8`, `v4-32`:
 * chips × per-chip price), in `region`; spot or on-demand. Undefined when the catalog has no
 * price for that type in that region: the caller then reports the price as unknown rather than
 * guessing from another region.
 */
export function gcpPrice(catalog: GcpPriceCatalog, type: string, region: string, spot: boolean): GcpPrice | undefined {
  const tpu = parseTpuType(type);
  const entry = tpu ? catalog.tpu_per_chip[region]?.[tpu.generation] : catalog.vm[region]?.[type];
  if (!entry) return undefined;
  const units = tpu ? tpuChips(tpu) : 1;
  return {
    pricePerHour: round6((spot ? entry.spot : entry.on_demand) * units),
    onDemandPricePerHour: round6(entry.on_demand * units),
    approximate: (entry.approximate ?? []).includes(spot ? "spot" : "on_demand"),
  };
}

/**
 * One worker's share of a slice price, so that summing the instances of a slice (as the cost
 * ledger does) gives the slice price. Every worker gets the same share.
 */
export function perWorker(price: GcpPrice, workers: number): GcpPrice {
  const n = Math.max(1, workers);
  return { ...price, pricePerHour: price.pricePerHour / n, onDemandPricePerHour: price.onDemandPricePerHour / n };
}

const round6 = (x: number) => Math.round(x * 1e6) / 1e6;

/** Looks a price up; warns once per type and region the catalog does not know. */
export type GcpPricer = (type: string, region: string | undefined, spot: boolean) => GcpPrice | undefined;

export function gcpPricer(catalog: GcpPriceCatalog, logger: Logger): GcpPricer {
  const warned = new Set<string>();
  return (type, region, spot) => {
    if (!type) return undefined;
    const price = region ? gcpPrice(catalog, type, region, spot) : undefined;
    const key = `${type}@${region ?? "?"}`;
    if (!price && !warned.has(key)) {
      warned.add(key);
      logger.warn(
        { type, region, catalog: "gcp-prices.json" },
        "no list price for this GCP type in this region; its cost is reported as 0 (unknown)",
      );
    }
    return price;
  };
}
