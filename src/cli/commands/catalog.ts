import { toIso } from "../../base/clock.js";
import { usageError } from "../../base/errors.js";
import type { CommandSpec } from "../command.js";
import { asUserError } from "./launch.js";

/** `spotrun catalog update`: refresh the AWS on-demand price catalog from the Pricing API. */
export const catalogUpdateCommand: CommandSpec = {
  name: "catalog update",
  summary: "Refresh on-demand prices from the AWS Pricing API into <home>/catalog/aws-on-demand.json",
  examples: [
    "spotrun catalog update",
    "spotrun catalog update --regions us-east-1,eu-west-1 --types g5.xlarge,p3.2xlarge --json",
  ],
  options: (cmd) =>
    cmd
      .option("--regions <a,b>", "regions to price (default: those of the shipped catalog)")
      .option("--types <a,b>", "instance types to price (default: those of the shipped catalog)"),
  async run(ctx, _args, opts) {
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
    const [{ SHIPPED_CATALOG, userCatalogPath }, { createPricingClient, fetchOnDemandCatalog }, { writeFileAtomic }] =
      await Promise.all([
        import("../../providers/aws/on-demand-catalog.js"),
        import("../../providers/aws/pricing-catalog.js"),
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
  },
};
