/** What `spotrun catalog update` does, imported only when it runs (its flags are defined in catalog.ts). */
import { toIso } from "../../base/clock.js";
import { importCloud } from "../../base/cloud-sdk.js";
import { errorMessage, SpotrunError, usageError } from "../../base/errors.js";
import type { CommandContext, CommandResult } from "../command.js";
import { asUserError } from "./launch-actions.js";

async function updateGcpCatalog(ctx: CommandContext, regions: string[] | undefined, types: string[] | undefined) {
  const [
    { SHIPPED_GCP_CATALOG, userGcpCatalogPath },
    { COMPUTE_SERVICE, fetchGcpVmPrices },
    { createCatalogClient },
    { writeFileAtomic },
  ] = await Promise.all([
    import("../../providers/gcp/gcp-price-catalog.js"),
    importCloud("gcp", "spotrun catalog update --provider gcp", () => import("../../providers/gcp/billing-catalog.js")),
    importCloud("gcp", "spotrun catalog update --provider gcp", () => import("../../providers/gcp/gcp-clients.js")),
    import("../../base/atomic-file.js"),
  ]);
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
    const path = userGcpCatalogPath(ctx.home);
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
    for (const m of got.missing) ctx.out.warn(`not priced from the API (the shipped price stays): ${m}`);
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
      human: `wrote ${priced} GCP VM prices (on-demand and spot) for ${Object.keys(got.vm).join(", ")} to ${path}`,
    };
  } finally {
    await client.close();
  }
}

export async function catalogUpdate(ctx: CommandContext, _args: string[], opts: Record<string, unknown>): Promise<CommandResult> {
  const list = (v: unknown) =>
    v === undefined
      ? undefined
      : String(v)
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean);
  const regions = list(opts.regions);
  const types = list(opts.types);
  if (regions?.length === 0) throw usageError("--regions is empty", "write it as us-east-1,eu-west-1");
  if (types?.length === 0) throw usageError("--types is empty", "write it as m7i.large,g5.xlarge");
  if (opts.provider === "gcp") return updateGcpCatalog(ctx, regions, types);
  const [{ SHIPPED_CATALOG, userCatalogPath }, { createPricingClient, fetchOnDemandCatalog }, { writeFileAtomic }] =
    await Promise.all([
      import("../../providers/aws/on-demand-catalog.js"),
      importCloud("aws", "spotrun catalog update", () => import("../../providers/aws/pricing-catalog.js")),
      import("../../base/atomic-file.js"),
    ]);
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
    const path = userCatalogPath(ctx.home);
    await writeFileAtomic(path, `${JSON.stringify(catalog, null, 2)}\n`);
    const missing = Object.entries(catalog.prices).flatMap(([r, t]) =>
      (types ?? shippedTypes(r)).filter((x) => t[x] === undefined).map((x) => `${r}/${x}`),
    );
    for (const m of missing) ctx.out.warn(`no on-demand price found for ${m}`);
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
      human: `wrote ${priced} on-demand prices for ${Object.keys(catalog.prices).join(", ")} to ${path}`,
    };
  } catch (e) {
    throw asUserError(e);
  } finally {
    pricing.destroy();
  }
}
