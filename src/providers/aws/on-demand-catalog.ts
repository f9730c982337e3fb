import { readFile } from "node:fs/promises";
import { join } from "node:path";
import shipped from "../../cost/catalog/aws-on-demand.json" with { type: "json" };

/**
 * On-demand list prices (USD per hour, Linux, shared tenancy) by region and instance type:
 * the catalog shipped in the package, overlaid by `<home>/catalog/aws-on-demand.json` that
 * `spotrun catalog update` writes from the Pricing API.
 */
export interface OnDemandCatalog {
  provider: "aws";
  currency: "USD";
  source: string;
  retrieved_at: string;
  prices: Record<string, Record<string, number>>;
}

export const SHIPPED_CATALOG = shipped as OnDemandCatalog;

export const userCatalogPath = (home: string) => join(home, "catalog", "aws-on-demand.json");

export async function loadOnDemandCatalog(home: string): Promise<OnDemandCatalog> {
  let user: OnDemandCatalog | undefined;
  try {
    user = JSON.parse(await readFile(userCatalogPath(home), "utf8")) as OnDemandCatalog;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  if (!user?.prices) return SHIPPED_CATALOG;
  const prices: Record<string, Record<string, number>> = {};
  for (const [region, types] of Object.entries(SHIPPED_CATALOG.prices)) prices[region] = { ...types };
  for (const [region, types] of Object.entries(user.prices)) prices[region] = { ...(prices[region] ?? {}), ...types };
  return { ...user, prices };
}

export function onDemandPrice(catalog: OnDemandCatalog, region: string, instanceType: string): number | undefined {
  return catalog.prices[region]?.[instanceType];
}
