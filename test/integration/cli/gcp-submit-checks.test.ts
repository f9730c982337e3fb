import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
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
