import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { openSpotrun } from "../../../src/index.js";
import { spotrun } from "../../support-cli/spotrun-cli.js";

/** No cloud is reached: what is wrong with the task is found before any call. */
let root: string;
let home: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), "spotrun-gcp-submit-"));
  home = join(root, "home");
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function task(name: string, resources: string, extra = ""): Promise<string> {
  const file = join(root, `${name}.yaml`);
  await writeFile(file, `name: ${name}\nresources: ${resources}\nrun: "true"\n${extra}`);
  return file;
}

test("a TPU type Cloud TPU does not have fails at submit (exit 2, no job) and is not priced at $0 by offers", async () => {
  const file = await task("bad-tpu", "{provider: gcp, tpu: v4-7, zone: us-central2-b, spot: true}");
  const run = await spotrun(home, ["run", file, "--detach"]);
  assert.equal(run.code, 2, run.stderr);
  assert.match(run.stderr, /^spotrun: resources\.tpu "v4-7" is not a Cloud TPU type — use one of v2-8/);
  const offers = await spotrun(home, ["offers", "--task", file]);
  assert.equal(offers.code, 2, offers.stdout);
  assert.doesNotMatch(offers.stdout, /\$0\.000/);
  const status = await spotrun(home, ["status", "--all", "--json"]);
  assert.deepEqual((JSON.parse(status.stdout) as { jobs: unknown[] }).jobs, []);
});

test("a region given as the zone, and a bucket name no store accepts, fail at submit", async () => {
  const zone = await spotrun(home, ["run", await task("zone", "{provider: gcp, zone: europe-north1}"), "--detach"]);
  assert.equal(zone.code, 2, zone.stderr);
  assert.match(zone.stderr, /resources\.zone "europe-north1" is not a GCP zone — that is a region/);
  const bucket = await spotrun(home, [
    "run",
    await task("bucket", "{provider: local}", "checkpoint: {store: gs://My_Checkpoints/run1}\n"),
    "--detach",
  ]);
  assert.equal(bucket.code, 2, bucket.stderr);
  assert.match(bucket.stderr, /^spotrun: bucket\.yaml: checkpoint\.store: bucket "My_Checkpoints" is not valid: /);
});

test("a type and region the catalog has no price for: refused at submit under a budget, a warning on the job without one", async () => {
  // N2 was not sold in europe-north2 on the catalog's date; europe-north1 (seed 000's region) is priced.
  const unpriced = "{provider: gcp, zone: europe-north2-a, instance_type: n2-standard-4, spot: true}";
  const refused = await spotrun(home, ["run", await task("budgeted", unpriced, "budget: {max_cost: 5}\n"), "--detach"]);
  assert.equal(refused.code, 2, refused.stderr);
  assert.equal(refused.stderr.trimEnd().split("\n").length, 1, refused.stderr);
  assert.match(
    refused.stderr,
    /^spotrun: budgeted\.yaml: budget\.max_cost: no list price for n2-standard-4 in europe-north2, so its cost would count as \$0 and the budget could not be kept — add its price to \S+catalog\/gcp-prices\.json/,
  );
  const flag = await spotrun(home, ["run", await task("flagged", unpriced), "--max-hourly", "1", "--detach"]);
  assert.equal(flag.code, 2, flag.stderr);
  assert.match(flag.stderr, /^spotrun: --max-hourly: no list price for n2-standard-4 in europe-north2/);
  const status = await spotrun(home, ["status", "--all", "--json"]);
  assert.deepEqual((JSON.parse(status.stdout) as { jobs: unknown[] }).jobs, [], "nothing was submitted");

  const offers = await spotrun(home, [
    "offers",
    "--task",
    await task("priced", "{provider: gcp, zone: europe-north1-a, instance_type: n2-standard-4, spot: true}"),
    "--json",
  ]);
  assert.equal(offers.code, 0, offers.stderr);
  const [offer] = JSON.parse(offers.stdout).offers as { price_per_hour_usd: number; on_demand_price_per_hour_usd: number }[];
  assert.ok(
    offer && offer.price_per_hour_usd > 0 && offer.on_demand_price_per_hour_usd > offer.price_per_hour_usd,
    offers.stdout,
  );

  // Submitted through the library API, so no controller starts for a cloud this test cannot reach.
  const sr = await openSpotrun({ home, stateUrl: null });
  try {
    const [warned] = await sr.submit(join(root, "flagged.yaml"));
    const events = (await sr.events(warned?.id ?? "")).events;
    const warning = events.find((e) => e.kind === "warning");
    assert.match(
      String(warning?.message),
      /^no list price for n2-standard-4 in europe-north2: its cost is reported as \$0 \(unknown\) — add/,
    );
    const [priced] = await sr.submit(join(root, "priced.yaml"), { overrides: { "budget.max_cost": 5 } });
    assert.ok(!(await sr.events(priced?.id ?? "")).events.some((e) => e.kind === "warning"), "a priced offer: no warning");
    await sr.cancel([warned?.id ?? "", priced?.id ?? ""]);
  } finally {
    await sr.close();
  }
});
