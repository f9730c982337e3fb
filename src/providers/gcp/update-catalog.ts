/** `spotrun catalog update --provider gcp`: VM prices (on-demand and spot) from the Cloud Billing Catalog API into <home>/catalog/. */
import { writeFileAtomic } from "../../base/atomic-file.js";
import { toIso } from "../../base/clock.js";
import { errorMessage, SpotrunError, usageError } from "../../base/errors.js";
import type { CatalogUpdate, CatalogUpdateRequest } from "../catalog-update.js";
import { COMPUTE_SERVICE, fetchGcpVmPrices } from "./billing-catalog.js";
import { createCatalogClient } from "./gcp-clients.js";
import { SHIPPED_GCP_CATALOG, userGcpCatalogPath } from "./gcp-price-catalog.js";

export async function updateCatalog(req: CatalogUpdateRequest): Promise<CatalogUpdate> {
  const { regions, types } = req;
  const shippedTypes = (r: string) => Object.keys(SHIPPED_GCP_CATALOG.vm[r] ?? SHIPPED_GCP_CATALOG.vm["us-central1"] ?? {});
  const client = await createCatalogClient();
  try {
    const now = Date.now();
    let got: Awaited<ReturnType<typeof fetchGcpVmPrices>>;
    try {
      got = await fetchGcpVmPrices(client, regions ?? Object.keys(SHIPPED_GCP_CATALOG.vm), (r) => types ?? shippedTypes(r));
    } catch (e) {
      throw new SpotrunError("failed", `Cloud Billing Catalog API: ${errorMessage(e).split("\n")[0]}`, {
        fix: "check the credentials (GOOGLE_APPLICATION_CREDENTIALS, or gcloud auth application-default login) and that the Cloud Billing API is enabled",
      });
    }
    const priced = Object.values(got.vm).reduce((n, t) => n + Object.keys(t).length, 0);
    if (priced === 0)
      throw usageError(
        "the Cloud Billing Catalog API gave no prices for those regions and machine types",
        "check the region names and types (priced from the API: e2, n2, n1 and c3 standard types)",
      );
    const path = userGcpCatalogPath(req.home);
    const catalog = {
      provider: "gcp",
      currency: "USD",
      source: `Cloud Billing Catalog API (${COMPUTE_SERVICE}, ${got.skusRead} SKUs read): each family's per-vCPU and per-GiB rate times the machine shape, on-demand and spot`,
      retrieved_at: toIso(now),
      vm: got.vm,
      tpu_per_chip: {},
    };
    await writeFileAtomic(path, `${JSON.stringify(catalog, null, 2)}\n`);
    // GPU shapes and TPUs are not cores and memory alone: their shipped figures stay in use.
    for (const m of got.missing) req.warn(`not priced from the API (the shipped price stays): ${m}`);
    return {
      data: {
        id: "gcp-prices",
        path,
        retrieved_at: toIso(now),
        regions: Object.keys(got.vm),
        prices_count: priced,
        missing: got.missing,
        prices_usd_per_hour: got.vm,
      },
      summary: `wrote ${priced} GCP VM prices (on-demand and spot) for ${Object.keys(got.vm).join(", ")} to ${path}`,
    };
  } finally {
    await client.close();
  }
}
