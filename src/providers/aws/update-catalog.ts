/** `spotrun catalog update` for AWS: on-demand prices from the Pricing API into <home>/catalog/. */
import { writeFileAtomic } from "../../base/atomic-file.js";
import { toIso } from "../../base/clock.js";
import { usageError } from "../../base/errors.js";
import type { CatalogUpdate, CatalogUpdateRequest } from "../catalog-update.js";
import { SHIPPED_CATALOG, userCatalogPath } from "./on-demand-catalog.js";
import { createPricingClient, fetchOnDemandCatalog } from "./pricing-catalog.js";

export async function updateCatalog(req: CatalogUpdateRequest): Promise<CatalogUpdate> {
  const { regions, types } = req;
  const pricing = createPricingClient();
  try {
    const shippedTypes = (r: string) => Object.keys(SHIPPED_CATALOG.prices[r] ?? SHIPPED_CATALOG.prices["us-east-1"] ?? {});
    const now = Date.now();
    const catalog = await fetchOnDemandCatalog(
      pricing,
      regions ?? Object.keys(SHIPPED_CATALOG.prices),
      (r) => types ?? shippedTypes(r),
      now,
    );
    const priced = Object.values(catalog.prices).reduce((n, t) => n + Object.keys(t).length, 0);
    if (priced === 0)
      throw usageError(
        "the Pricing API returned no prices for those regions and types",
        "check the region codes and instance type names",
      );
    const path = userCatalogPath(req.home);
    await writeFileAtomic(path, `${JSON.stringify(catalog, null, 2)}\n`);
    const missing = Object.entries(catalog.prices).flatMap(([r, t]) =>
      (types ?? shippedTypes(r)).filter((x) => t[x] === undefined).map((x) => `${r}/${x}`),
    );
    for (const m of missing) req.warn(`no on-demand price found for ${m}`);
    return {
      data: {
        id: "aws-on-demand",
        path,
        retrieved_at: toIso(now),
        regions: Object.keys(catalog.prices),
        prices_count: priced,
        missing,
        prices_usd_per_hour: catalog.prices,
      },
      summary: `wrote ${priced} on-demand prices for ${Object.keys(catalog.prices).join(", ")} to ${path}`,
    };
  } finally {
    pricing.destroy();
  }
}
