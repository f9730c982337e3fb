import assert from "node:assert/strict";
import { test } from "node:test";
import { SpotrunError } from "../../../src/base/errors.js";
import { buildSearchBody, DEFAULT_FILTERS, numericVersion, parseOrder, parseQuery } from "../../../src/providers/vast/query.js";

const usage = (fn: () => unknown): SpotrunError => {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof SpotrunError, `expected SpotrunError, got ${String(e)}`);
    assert.equal(e.exitCode, 2);
    assert.equal(e.code, "vast_query");
    return e;
  }
  assert.fail("expected a usage error");
};

test("the seed's query becomes the CLI's filter JSON over the default filters", () => {
  const f = parseQuery("reliability > 0.95 num_gpus=1 gpu_ram >= 24 dph < 0.50");
  assert.deepEqual(f, {
    ...DEFAULT_FILTERS,
    reliability: { gt: 0.95 },
    num_gpus: { eq: 1 },
    gpu_ram: { gte: 24_000 },
    dph_total: { lt: 0.5 },
  });
});

test("every operator spelling maps to the CLI's op names", () => {
  const cases: [string, Record<string, unknown>][] = [
    ["num_gpus=2", { eq: 2 }],
    ["num_gpus==2", { eq: 2 }],
    ["num_gpus eq 2", { eq: 2 }],
    ["num_gpus!=2", { neq: 2 }],
    ["num_gpus neq 2", { neq: 2 }],
    ["num_gpus noteq 2", { neq: 2 }],
    ["num_gpus not eq 2", { neq: 2 }],
    ["num_gpus>2", { gt: 2 }],
    ["num_gpus gt 2", { gt: 2 }],
    ["num_gpus>=2", { gte: 2 }],
    ["num_gpus gte 2", { gte: 2 }],
    ["num_gpus<2", { lt: 2 }],
    ["num_gpus lt 2", { lt: 2 }],
    ["num_gpus<=2", { lte: 2 }],
    ["num_gpus lte 2", { lte: 2 }],
    ["num_gpus in [1,2]", { in: [1, 2] }],
    ["num_gpus notin [1,2]", { notin: [1, 2] }],
    ["num_gpus not in [1,2]", { notin: [1, 2] }],
    ["num_gpus nin [1,2]", { notin: [1, 2] }],
  ];
  for (const [q, want] of cases) assert.deepEqual(parseQuery(q, {}).num_gpus, want, q);
});

test("aliases, unit scaling, strings, booleans, versions, null", () => {
  const f = parseQuery(
    "dph<=1 cuda_vers>=12.1 dlperf_usd>10 flops_usd>1 display_active=false gpu_ram>=24 cpu_ram>32 gpu_total_ram>=48 duration>=2 " +
      'gpu_name=RTX_4090 geolocation in [SE,"US"] verified=True rentable=False driver_version>=535.86.05 cpu_arch=None',
    {},
  );
  assert.deepEqual(f.dph_total, { lte: 1 });
  assert.deepEqual(f.cuda_max_good, { gte: 12.1 });
  assert.deepEqual(f.dlperf_per_dphtotal, { gt: 10 });
  assert.deepEqual(f.flops_per_dphtotal, { gt: 1 });
  assert.deepEqual(f.gpu_display_active, { eq: false });
  assert.deepEqual(f.gpu_ram, { gte: 24_000 });
  assert.deepEqual(f.cpu_ram, { gt: 32_000 });
  assert.deepEqual(f.gpu_total_ram, { gte: 48_000 });
  assert.deepEqual(f.duration, { gte: 172_800 });
  assert.deepEqual(f.gpu_name, { eq: "RTX 4090" });
  assert.deepEqual(f.geolocation, { in: ["SE", "US"] });
  assert.deepEqual(f.verified, { eq: true });
  assert.deepEqual(f.rentable, { eq: false });
  assert.deepEqual(f.driver_version, { gte: 535_086_005 });
  assert.deepEqual(f.cpu_arch, { eq: null });
  assert.equal(numericVersion("550.54"), 550_054_000);
  assert.deepEqual(parseQuery('gpu_name="RTX 4090"', {}).gpu_name, { eq: "RTX 4090" });
  assert.deepEqual(parseQuery('gpu_name in ["RTX 4090", "RTX 3090"]', {}).gpu_name, { in: ["RTX 4090", "RTX 3090"] });
});

test("two clauses on one field merge into a range; a later clause overrides a default", () => {
  const f = parseQuery("dph>0.1 dph<0.5 verified=false");
  assert.deepEqual(f.dph_total, { gt: 0.1, lt: 0.5 });
  assert.deepEqual(f.verified, { eq: false });
  assert.deepEqual(DEFAULT_FILTERS.verified, { eq: true }, "defaults are not mutated");
});

test("the any wildcard drops a filter, defaults included", () => {
  const f = parseQuery("rented=any verified=* external=?");
  assert.equal(f.rented, undefined);
  assert.equal(f.verified, undefined);
  assert.equal(f.external, undefined);
  assert.deepEqual(f.rentable, { eq: true });
});

test("--order: ascending by default, - before or after for descending, aliases resolved", () => {
  assert.deepEqual(parseOrder("dph"), [["dph_total", "asc"]]);
  assert.deepEqual(parseOrder("-dph"), [["dph_total", "desc"]]);
  assert.deepEqual(parseOrder("dph-"), [["dph_total", "desc"]]);
  assert.deepEqual(parseOrder("+reliability"), [["reliability", "asc"]]);
  assert.deepEqual(parseOrder("num_gpus, -reliability"), [
    ["num_gpus", "asc"],
    ["reliability", "desc"],
  ]);
  assert.deepEqual(parseOrder(), [["score", "desc"]]);
});

test("the body carries order, type, limit and allocated_storage like the CLI", () => {
  assert.deepEqual(buildSearchBody("gpu_ram>=24", { order: "dph", limit: 5, type: "interruptible" }), {
    ...DEFAULT_FILTERS,
    gpu_ram: { gte: 24_000 },
    order: [["dph_total", "asc"]],
    type: "bid",
    limit: 5,
    allocated_storage: 5,
  });
  const plain = buildSearchBody("", { noDefault: true });
  assert.deepEqual(plain, { order: [["score", "desc"]], type: "on-demand", allocated_storage: 5 });
});

test("errors name the token and list what is allowed", () => {
  let e = usage(() => parseQuery("gpu_rma >= 24"));
  assert.match(e.message, /unknown field "gpu_rma" in "gpu_rma >= 24"/);
  assert.match(e.fix ?? "", /gpu_ram/);
  assert.match(e.fix ?? "", /aliases: cuda_vers/);

  e = usage(() => parseQuery("gpu_ram => 24"));
  assert.match(e.message, /unknown operator "=>" in "gpu_ram => 24"/);
  assert.match(e.fix ?? "", /= == != > >= < <= in notin/);

  e = usage(() => parseQuery("gpu_ram 24"));
  assert.match(e.message, /no operator in "gpu_ram 24"/);

  e = usage(() => parseQuery("gpu_ram >="));
  assert.match(e.message, /no value after "gpu_ram >="/);

  e = usage(() => parseQuery("gpu_ram >= lots"));
  assert.match(e.message, /gpu_ram takes a number, got "lots"/);

  e = usage(() => parseQuery("verified=yes"));
  assert.match(e.message, /verified takes true or false, got "yes"/);

  e = usage(() => parseQuery("driver_version>=5.3.2.1"));
  assert.match(e.message, /takes a version/);

  e = usage(() => parseQuery("gpu_name > RTX_4090"));
  assert.match(e.message, /gpu_name cannot be compared with ">"/);

  e = usage(() => parseQuery("rented != any"));
  assert.match(e.message, /wildcard "any" only works with =/);

  e = usage(() => parseQuery("gpu_name in [,]"));
  assert.match(e.message, /no value|empty list/);

  e = usage(() => parseQuery("gpu_ram >= 24 (dph < 1)"));
  assert.match(e.message, /could not read "\(" at column 15/);

  e = usage(() => parseOrder("-price"));
  assert.match(e.message, /unknown field "-price" in --order/);

  e = usage(() => buildSearchBody("", { limit: 0 }));
  assert.match(e.message, /--limit/);

  e = usage(() => buildSearchBody("", { type: "spot" as never }));
  assert.match(e.message, /unknown offer type "spot"/);
});
