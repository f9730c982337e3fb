import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { catalogUpdateCommand } from "../../../src/cli/commands/catalog.js";
import { gcpPrice, loadGcpPriceCatalog, userGcpCatalogPath } from "../../../src/providers/gcp/gcp-price-catalog.js";
import { writeAdcFile } from "../../servers/gcp/adc-file.js";
import { BillingServer } from "../../servers/gcp/billing-server.js";
import { commandContext } from "../aws/command-context.js";

/**
 * `spotrun catalog update --provider gcp` through the real @google-cloud/billing client (REST)
 * against the in-repo Cloud Billing Catalog server: SKUs read across pages, only the on-demand and
 * spot core and RAM rates of each family taken, priced per machine shape, written where the GCP
 * provider's ledger reads them.
 */
let billing: BillingServer;
let home: string;
const saved = {
  adc: process.env.GOOGLE_APPLICATION_CREDENTIALS,
  endpoint: process.env.CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDBILLING,
};
const central = ["us-central1", "us-east1"];

before(async () => {
  home = await mkdtemp(join(tmpdir(), "spotrun-billing-"));
  billing = await new BillingServer(3).start();
  process.env.GOOGLE_APPLICATION_CREDENTIALS = await writeAdcFile(home, billing.http.url, "spotrun-test");
  process.env.CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDBILLING = `${billing.http.url}/`;
  billing.skus = [
    { description: "N2 Instance Core running in Americas", usageType: "OnDemand", regions: central, usd: 0.031611, unit: "h" },
    {
      description: "N2 Instance Ram running in Americas",
      usageType: "OnDemand",
      regions: central,
      usd: 0.004237,
      unit: "GiBy.h",
    },
    {
      description: "Spot Preemptible N2 Instance Core running in Americas",
      usageType: "Preemptible",
      regions: central,
      usd: 0.00765,
      unit: "h",
    },
    {
      description: "Spot Preemptible N2 Instance Ram running in Americas",
      usageType: "Preemptible",
      regions: central,
      usd: 0.001025,
      unit: "GiBy.h",
    },
    { description: "E2 Instance Core running in Americas", usageType: "OnDemand", regions: central, usd: 0.021811, unit: "h" },
    {
      description: "E2 Instance Ram running in Americas",
      usageType: "OnDemand",
      regions: central,
      usd: 0.002923,
      unit: "GiBy.h",
    },
    {
      description: "Spot Preemptible E2 Instance Core running in Americas",
      usageType: "Preemptible",
      regions: central,
      usd: 0.006543,
      unit: "h",
    },
    {
      description: "Spot Preemptible E2 Instance Ram running in Americas",
      usageType: "Preemptible",
      regions: central,
      usd: 0.000877,
      unit: "GiBy.h",
    },
    {
      description: "N2 Instance Core running in Netherlands",
      usageType: "OnDemand",
      regions: ["europe-west4"],
      usd: 0.034773,
      unit: "h",
    },
    // Look-alikes that must not be taken for the N2 rates.
    { description: "N2D AMD Instance Core running in Americas", usageType: "OnDemand", regions: central, usd: 9, unit: "h" },
    { description: "N2 Custom Instance Core running in Americas", usageType: "OnDemand", regions: central, usd: 9, unit: "h" },
    { description: "Commitment v1: N2 Cpu in Americas for 1 Year", usageType: "Commit1Yr", regions: central, usd: 9, unit: "h" },
    {
      description: "N2 Sole Tenancy Instance Core running in Americas",
      usageType: "OnDemand",
      regions: central,
      usd: 9,
      unit: "h",
    },
    {
      description: "Spot Preemptible N2 Instance Core running in Americas",
      usageType: "OnDemand",
      regions: central,
      usd: 9,
      unit: "h",
    },
  ];
});
after(async () => {
  for (const [k, v] of [
    ["GOOGLE_APPLICATION_CREDENTIALS", saved.adc],
    ["CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDBILLING", saved.endpoint],
  ] as const)
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  await billing.close();
  await rm(home, { recursive: true, force: true });
});

test("catalog update --provider gcp: per-core and per-GiB rates times the shape, on-demand and spot, used by the ledger", async () => {
  const { ctx, out } = commandContext(home);
  const res = await catalogUpdateCommand.run(ctx, [], {
    provider: "gcp",
    regions: "us-central1,europe-west4",
    types: "n2-standard-4,e2-standard-2,g2-standard-4",
  });
  const data = res.data as {
    path: string;
    prices_count: number;
    missing: string[];
    prices_usd_per_hour: Record<string, Record<string, { on_demand: number; spot: number }>>;
  };
  assert.equal(data.path, userGcpCatalogPath(home));
  assert.deepEqual(data.prices_usd_per_hour, {
    "us-central1": {
      "n2-standard-4": { on_demand: 0.194236, spot: 0.047 },
      "e2-standard-2": { on_demand: 0.067006, spot: 0.020102 },
    },
  });
  // europe-west4 has no spot rate here and GPU shapes are not cores and memory alone.
  assert.deepEqual(data.missing.sort(), [
    "europe-west4/e2-standard-2",
    "europe-west4/g2-standard-4",
    "europe-west4/n2-standard-4",
    "us-central1/g2-standard-4",
  ]);
  assert.equal(out.warns.length, 4);
  // Every SKU page was read, through the real client, authenticated.
  const gets = billing.http.received.filter((r) => r.path === "/v1/services/6F81-5844-456A/skus");
  assert.equal(gets.length, 5, "14 SKUs in pages of 3");
  assert.ok(gets.every((r) => r.query.get("currencyCode") === "USD"));
  assert.ok(gets.slice(1).every((r) => r.query.get("pageToken")));
  // The provider's ledger now prices with them, and says they are not approximations.
  const file = JSON.parse(await readFile(data.path, "utf8")) as { source: string };
  assert.match(file.source, /Cloud Billing Catalog API/);
  const catalog = await loadGcpPriceCatalog(home);
  assert.deepEqual(gcpPrice(catalog, "n2-standard-4", "us-central1", true), {
    pricePerHour: 0.047,
    onDemandPricePerHour: 0.194236,
    approximate: false,
  });
  assert.equal(gcpPrice(catalog, "g2-standard-4", "us-central1", true)?.approximate, true, "the shipped estimate stays");
});

test("catalog update --provider gcp: nothing priced is a clear error, and the file is left as it was", async () => {
  const before = await readFile(userGcpCatalogPath(home), "utf8");
  const { ctx } = commandContext(home);
  await assert.rejects(
    catalogUpdateCommand.run(ctx, [], { provider: "gcp", regions: "mars-central1", types: "n2-standard-4" }),
    /gave no prices for those regions and machine types/,
  );
  assert.equal(await readFile(userGcpCatalogPath(home), "utf8"), before);
});

test("catalog update --provider gcp: an API that refuses is one line with what to do", async () => {
  billing.disabled = true;
  try {
    const { ctx } = commandContext(home);
    await assert.rejects(
      catalogUpdateCommand.run(ctx, [], { provider: "gcp", regions: "us-central1" }),
      (e: Error & { fix?: string }) =>
        /^Cloud Billing Catalog API: .*has not been used in project spotrun-test/.test(e.message) &&
        !e.message.includes("\n") &&
        /Cloud Billing API is enabled/.test(e.fix ?? ""),
    );
  } finally {
    billing.disabled = false;
  }
});
