import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { VastClient } from "../../../src/providers/vast/client.js";
import { buildSearchBody, DEFAULT_FILTERS } from "../../../src/providers/vast/query.js";
import { searchOffers } from "../../../src/providers/vast/search-offers.js";
import { API_KEY, type Harness, harness, ids } from "./fixtures.js";

let h: Harness;
let client: VastClient;

before(async () => {
  delete process.env.VAST_API_KEY;
  delete process.env.VAST_API_URL;
  h = await harness();
  client = new VastClient({ apiKey: API_KEY, baseUrl: h.server.url });
});
after(() => h.close());

/** Search through the real client; return the ids found and the body the server received. */
async function search(query: string, opts: Parameters<typeof buildSearchBody>[1] = {}) {
  const before = h.server.requests.length;
  const offers = await client.searchOffers(buildSearchBody(query, opts));
  const got = h.server.requests.slice(before).filter((r) => r.path === "/api/v0/bundles/");
  assert.equal(got.length, 1);
  assert.equal(got[0]?.method, "POST");
  assert.equal(got[0]?.auth, "bearer");
  assert.equal(got[0]?.query.api_key, undefined, "the key never goes in the URL");
  return { ids: offers.map((o) => o.id), body: got[0]?.body as Record<string, unknown> };
}

test("each operator: the body the server received and the offers it matched", async () => {
  const cases: [string, string, Record<string, unknown>, number[]][] = [
    ["gte with GB→MB scaling", "gpu_ram >= 24", { gpu_ram: { gte: 24_000 } }, [104, 101, 102, 103]],
    ["gt", "reliability > 0.98", { reliability: { gt: 0.98 } }, [104, 101]],
    ["lt via the dph alias", "dph < 0.4", { dph_total: { lt: 0.4 } }, [102, 103]],
    ["lte", "dph <= 0.38", { dph_total: { lte: 0.38 } }, [102, 103]],
    ["eq", "num_gpus=2", { num_gpus: { eq: 2 } }, [104]],
    ["== on a name with _ for space", "gpu_name==RTX_3090", { gpu_name: { eq: "RTX 3090" } }, [103]],
    ["neq", "gpu_name != RTX_4090", { gpu_name: { neq: "RTX 4090" } }, [104, 103]],
    ["in", "gpu_name in [RTX_4090,RTX_3090]", { gpu_name: { in: ["RTX 4090", "RTX 3090"] } }, [101, 102, 103]],
    ["notin", "gpu_name notin [RTX_4090]", { gpu_name: { notin: ["RTX 4090"] } }, [104, 103]],
    [
      "the seed's query",
      "reliability > 0.95 num_gpus=1 gpu_ram >= 24 dph < 0.50",
      {
        reliability: { gt: 0.95 },
        num_gpus: { eq: 1 },
        gpu_ram: { gte: 24_000 },
        dph_total: { lt: 0.5 },
      },
      [101, 103],
    ],
  ];
  for (const [what, q, filters, want] of cases) {
    const r = await search(q);
    assert.deepEqual(
      r.body,
      { ...DEFAULT_FILTERS, ...filters, order: [["score", "desc"]], type: "on-demand", allocated_storage: 5 },
      what,
    );
    assert.deepEqual(r.ids, want, what);
  }
});

test("default filters exclude unverified, external and rented offers; wildcards let them back", async () => {
  assert.deepEqual((await search("gpu_name=RTX_4090")).ids, [101, 102]);
  const all = await search("gpu_name=RTX_4090 rented=any external=any", { order: "dph" });
  assert.equal(all.body.rented, undefined);
  assert.equal(all.body.external, undefined);
  assert.deepEqual(all.ids, [107, 102, 101, 106]);
  const unverified = await search("verified=false");
  assert.deepEqual(unverified.body.verified, { eq: false });
  assert.deepEqual(unverified.ids, [105]);
});

test("ordering: ascending, -field and field- descending, several keys; limit", async () => {
  const asc = await search("gpu_ram>=24", { order: "dph" });
  assert.deepEqual(asc.body.order, [["dph_total", "asc"]]);
  assert.deepEqual(asc.ids, [103, 102, 101, 104]);
  const desc = await search("gpu_ram>=24", { order: "-dph" });
  assert.deepEqual(desc.body.order, [["dph_total", "desc"]]);
  assert.deepEqual(desc.ids, [104, 101, 102, 103]);
  const suffix = await search("gpu_ram>=24", { order: "reliability-" });
  assert.deepEqual(suffix.ids, [104, 101, 103, 102]);
  const multi = await search("gpu_ram>=24", { order: "num_gpus,-dph" });
  assert.deepEqual(multi.body.order, [
    ["num_gpus", "asc"],
    ["dph_total", "desc"],
  ]);
  assert.deepEqual(multi.ids, [101, 102, 103, 104]);
  const limited = await search("gpu_ram>=24", { order: "dph", limit: 2 });
  assert.equal(limited.body.limit, 2);
  assert.deepEqual(limited.ids, [103, 102]);
});

test("searchOffers: the exported entry point, configured from <home>/config, prices bids at min_bid", async () => {
  await mkdir(join(h.home, "config"), { recursive: true });
  await writeFile(join(h.home, "config", "vast_api_key"), `${API_KEY}\n`, { mode: 0o600 });
  // The CLI's --url style (host only) gets /api/v0 added.
  await writeFile(join(h.home, "config", "vast_api_url"), h.server.url.replace(/\/api\/v0$/, ""));
  const before = h.server.requests.length;
  const bids = await searchOffers("gpu_ram >= 24 dph < 0.5", { order: "dph", limit: 3, type: "bid", home: h.home });
  const req = h.server.requests.slice(before)[0];
  assert.equal(req?.auth, "bearer");
  assert.deepEqual((req?.body as Record<string, unknown> | undefined)?.type, "bid");
  assert.deepEqual(ids(bids), [103, 102, 101]);
  const first = bids[0];
  assert.ok(first);
  assert.equal(first.provider, "vast");
  assert.equal(first.spot, true);
  assert.equal(first.pricePerHour, 0.09);
  assert.equal(first.onDemandPricePerHour, 0.22);
  assert.equal(first.instanceType, "RTX_3090:1");
  assert.equal(first.region, "Texas, US");
  assert.equal(first.detail?.gpu_name, "RTX 3090");
  assert.equal(first.detail?.gpu_ram_gb, 24.576);
  assert.equal(first.detail?.reliability, 0.97);
  const od = await searchOffers("num_gpus=2", { home: h.home });
  assert.equal(od[0]?.spot, false);
  assert.equal(od[0]?.pricePerHour, 2.4);
});

test("a server-side refusal of a search is a typed error with the server's message", async () => {
  await assert.rejects(client.searchOffers({ no_such_field: { eq: 1 } }), (e: unknown) => {
    assert.ok(e instanceof Error && e.name === "VastApiError");
    const v = e as unknown as { status: number; code: string; serverMsg: string; retryable: boolean };
    assert.equal(v.status, 400);
    assert.equal(v.code, "invalid_args");
    assert.equal(v.serverMsg, "unknown search field no_such_field");
    assert.equal(v.retryable, false);
    return true;
  });
});
