import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import pino from "pino";
import { SpotrunError } from "../../../src/base/errors.js";
import {
  type GcpPriceCatalog,
  gcpPrice,
  gcpPricer,
  loadGcpPriceCatalog,
  perWorker,
  SHIPPED_GCP_CATALOG,
  tpuChips,
  userGcpCatalogPath,
} from "../../../src/providers/gcp/gcp-price-catalog.js";
import { parseTpuType } from "../../../src/providers/gcp/tpu-types.js";

const catalog = SHIPPED_GCP_CATALOG;

describe("GCP price catalog", () => {
  test("VM lookups give the per-VM list price, spot or on-demand", () => {
    const od = gcpPrice(catalog, "n2-standard-4", "us-central1", false);
    assert.deepEqual(od, { pricePerHour: 0.194236, onDemandPricePerHour: 0.194236, approximate: false });
    const spot = gcpPrice(catalog, "n2-standard-4", "us-central1", true);
    assert.ok(spot);
    assert.equal(spot.onDemandPricePerHour, 0.194236);
    assert.ok(spot.pricePerHour > 0 && spot.pricePerHour < spot.onDemandPricePerHour);
    assert.equal(spot.approximate, true, "spot figures are marked approximate");
    assert.equal(gcpPrice(catalog, "e2-standard-2", "us-east1", false)?.pricePerHour, 0.067011);
    assert.equal(gcpPrice(catalog, "g2-standard-4", "us-central1", false)?.pricePerHour, 0.706832);
    assert.equal(gcpPrice(catalog, "a2-highgpu-1g", "us-central1", false)?.pricePerHour, 3.673385);
    // Every region's on-demand figure is Google's own regional list price, not an uplift of us-central1's.
    assert.equal(gcpPrice(catalog, "n2-standard-4", "europe-west4", false)?.approximate, false);
    assert.equal(gcpPrice(catalog, "n2-standard-4", "europe-north1", false)?.pricePerHour, 0.213848);
  });

  // Compute Engine's regions (cloud.google.com/compute/docs/regions-zones) as of the catalog's date.
  const GCP_REGIONS = [
    "africa-south1",
    "asia-east1",
    "asia-east2",
    "asia-northeast1",
    "asia-northeast2",
    "asia-northeast3",
    "asia-south1",
    "asia-south2",
    "asia-southeast1",
    "asia-southeast2",
    "australia-southeast1",
    "australia-southeast2",
    "europe-central2",
    "europe-north1",
    "europe-north2",
    "europe-southwest1",
    "europe-west1",
    "europe-west10",
    "europe-west12",
    "europe-west2",
    "europe-west3",
    "europe-west4",
    "europe-west6",
    "europe-west8",
    "europe-west9",
    "me-central1",
    "me-central2",
    "me-west1",
    "northamerica-northeast1",
    "northamerica-northeast2",
    "northamerica-south1",
    "southamerica-east1",
    "southamerica-west1",
    "us-central1",
    "us-east1",
    "us-east4",
    "us-east5",
    "us-south1",
    "us-west1",
    "us-west2",
    "us-west3",
    "us-west4",
  ];
  const WANT = [
    "e2-standard-2",
    "e2-standard-4",
    "e2-standard-8",
    "n2-standard-2",
    "n2-standard-4",
    "n2-standard-8",
    "n2-standard-16",
    "n1-standard-4",
    "n1-standard-8",
    "c3-standard-4",
    "c3-standard-8",
    "g2-standard-4",
    "g2-standard-8",
    "a2-highgpu-1g",
  ];
  // Where Google sold the family in neither market on the catalog's date, so there is no price to ship.
  const NOT_OFFERED: Record<string, string[]> = {
    "europe-north2": WANT.filter((t) => !t.startsWith("e2-")),
    "northamerica-south1": WANT.filter((t) => !t.startsWith("e2-")),
    "northamerica-northeast2": ["a2-highgpu-1g"],
  };

  test("every catalogued type is priced in every Compute Engine region that offers it (issue 17: $0 outside four regions)", () => {
    assert.deepEqual(Object.keys(catalog.vm).sort(), [...GCP_REGIONS].sort());
    for (const region of GCP_REGIONS)
      for (const t of WANT) {
        const offered = !(NOT_OFFERED[region] ?? []).includes(t);
        for (const spot of [true, false])
          assert.equal(Boolean(gcpPrice(catalog, t, region, spot)), offered, `${t} in ${region} spot=${spot}`);
      }
  });

  test("standard shapes scale with vCPUs within a family and region", () => {
    for (const region of GCP_REGIONS)
      for (const [small, big, k] of [
        ["e2-standard-2", "e2-standard-8", 4],
        ["n2-standard-2", "n2-standard-16", 8],
        ["n1-standard-4", "n1-standard-8", 2],
        ["c3-standard-4", "c3-standard-8", 2],
      ] as const) {
        const a = gcpPrice(catalog, small, region, false);
        const b = gcpPrice(catalog, big, region, false);
        if (!a || !b) continue;
        assert.ok(Math.abs(b.pricePerHour - k * a.pricePerHour) < 2e-6 * k, `${big} = ${k} x ${small} in ${region}`);
      }
  });

  test("spot is below on-demand, and both positive, for every entry", () => {
    const all = [...Object.entries(catalog.vm), ...Object.entries(catalog.tpu_per_chip)];
    let n = 0;
    for (const [region, types] of all)
      for (const [t, e] of Object.entries(types)) {
        assert.ok(e.spot > 0 && e.on_demand > 0, `${t}@${region} positive`);
        assert.ok(e.spot < e.on_demand, `${t}@${region}: spot ${e.spot} < on-demand ${e.on_demand}`);
        n++;
      }
    assert.ok(n >= 50, `${n} entries`);
    assert.match(catalog.source, /Compiled 2026-12-02/);
    assert.match(catalog.source, /generated 2025-03-06/, "the date of the prices themselves");
    assert.match(catalog.source, /Cloud Billing Catalog API/);
    assert.match(catalog.source, /APPROXIMATE/);
  });

  test("TPU slices are chips × per-chip price; v4 and v5p count TensorCores (2 per chip), v5e counts chips", () => {
    const chips = (s: string) => tpuChips(parseTpuType(s) ?? assert.fail(s));
    assert.equal(chips("v4-32"), 16);
    assert.equal(chips("v4-8"), 4);
    assert.equal(chips("v5p-8"), 4);
    assert.equal(chips("v5litepod-8"), 8);
    assert.equal(chips("v5litepod-1"), 1);
    assert.equal(chips("v6e-16"), 16);

    const v4 = gcpPrice(catalog, "v4-32", "us-central2", false);
    assert.deepEqual(v4, { pricePerHour: 16 * 3.22, onDemandPricePerHour: 16 * 3.22, approximate: false });
    const v4spot = gcpPrice(catalog, "v4-32", "us-central2", true);
    assert.ok(v4spot && v4spot.pricePerHour < v4spot.onDemandPricePerHour);
    const v5e = gcpPrice(catalog, "v5litepod-8", "us-central1", false);
    assert.equal(v5e?.pricePerHour, 9.6);
    assert.equal(gcpPrice(catalog, "v5litepod-8", "us-central1", true)?.pricePerHour, 8 * 0.36);
  });

  test("unknown types, regions and malformed TPU names are undefined, not guessed", () => {
    assert.equal(gcpPrice(catalog, "m3-ultramem-32", "us-central1", true), undefined);
    assert.equal(gcpPrice(catalog, "n2-standard-4", "mars-north1", true), undefined);
    assert.equal(gcpPrice(catalog, "v4-32", "us-central1", true), undefined, "v4 is only in us-central2");
    assert.equal(gcpPrice(catalog, "v6e-8", "us-central1", true), undefined);
    assert.equal(gcpPrice(catalog, "v5litepod", "us-central1", true), undefined);
  });

  test("a slice price split over its workers sums back to the slice price", () => {
    for (const [type, region, workers] of [
      ["v4-32", "us-central2", 4],
      ["v5litepod-16", "us-central1", 4],
      ["v5litepod-8", "us-central1", 1],
      ["v4-8", "us-central2", 1],
    ] as const)
      for (const spot of [true, false]) {
        const slice = gcpPrice(catalog, type, region, spot) ?? assert.fail(type);
        const share = perWorker(slice, workers);
        const sum = Array.from({ length: workers }, () => share.pricePerHour).reduce((a, b) => a + b, 0);
        const sumOd = Array.from({ length: workers }, () => share.onDemandPricePerHour).reduce((a, b) => a + b, 0);
        assert.ok(Math.abs(sum - slice.pricePerHour) < 1e-9, `${type} spot=${spot}: ${sum} vs ${slice.pricePerHour}`);
        assert.ok(Math.abs(sumOd - slice.onDemandPricePerHour) < 1e-9);
      }
  });

  test("the pricer warns once per unknown type and region", () => {
    const lines: string[] = [];
    const logger = pino({ level: "warn" }, { write: (l: string) => lines.push(l) });
    const price = gcpPricer(catalog, logger);
    assert.equal(price("x9-giant-4", "us-central1", true), undefined);
    assert.equal(price("x9-giant-4", "us-central1", false), undefined);
    assert.equal(price("x9-giant-4", "us-east1", true), undefined);
    assert.ok(price("n2-standard-4", "us-central1", true));
    assert.equal(price("n2-standard-4", undefined, true), undefined);
    assert.equal(lines.length, 3, lines.join(""));
    assert.match(lines[0] ?? "", /x9-giant-4/);
  });

  test("a user catalog in <home>/catalog overrides entries and adds regions; the shipped ones stay", async () => {
    const home = await mkdtemp(join(tmpdir(), "spotrun-gcpprice-"));
    try {
      assert.equal(await loadGcpPriceCatalog(home), SHIPPED_GCP_CATALOG, "no user file: the shipped catalog");
      const user: Partial<GcpPriceCatalog> = {
        retrieved_at: "2026-12-01T00:00:00Z",
        vm: {
          "us-central1": { "n2-standard-4": { on_demand: 0.2, spot: 0.05 } },
          "me-west1": { "e2-standard-2": { on_demand: 0.08, spot: 0.03 } },
        },
      };
      await mkdir(join(home, "catalog"), { recursive: true });
      await writeFile(userGcpCatalogPath(home), JSON.stringify(user));
      const merged = await loadGcpPriceCatalog(home);
      assert.equal(gcpPrice(merged, "n2-standard-4", "us-central1", true)?.pricePerHour, 0.05);
      assert.equal(gcpPrice(merged, "n2-standard-8", "us-central1", false)?.pricePerHour, 0.388472, "others kept");
      assert.equal(gcpPrice(merged, "e2-standard-2", "me-west1", false)?.pricePerHour, 0.08);
      assert.equal(gcpPrice(merged, "v4-32", "us-central2", false)?.pricePerHour, 16 * 3.22, "TPU prices kept");
      assert.equal(merged.retrieved_at, "2026-12-01T00:00:00Z");
      assert.equal(SHIPPED_GCP_CATALOG.vm["us-central1"]?.["n2-standard-4"]?.spot !== 0.05, true, "shipped not mutated");
      await writeFile(userGcpCatalogPath(home), "{ not json");
      await assert.rejects(loadGcpPriceCatalog(home), (e: unknown) => e instanceof SpotrunError && e.kind === "usage");
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });
});
