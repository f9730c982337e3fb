import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { HeadBucketCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { GcsServer } from "../../servers/gcp/gcs-server.js";
import { sandbox, spotrun, writeTask } from "../../support-cli/spotrun-cli.js";
import { S3RVER_CREDENTIALS, type S3rverFixture, startS3rver } from "../aws/s3rver-fixture.js";

/**
 * A checkpoint store is proven at submit (issue 17 item 10): a bucket that does not exist is one
 * line, exit 2, and no job; `create_bucket` / `--create-bucket` make it. Through the real CLI, the
 * real S3 and GCS clients, s3rver and the in-repo Cloud Storage server.
 */
let box: Awaited<ReturnType<typeof sandbox>>;
let s3: S3rverFixture;
let client: S3Client;
let gcs: GcsServer;
let env: Record<string, string>;

before(async () => {
  box = await sandbox("store-probe");
  s3 = await startS3rver(["ckpt"]);
  client = s3.client();
  gcs = await new GcsServer(["gckpt"]).start();
  env = {
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    AWS_REGION: "us-east-1",
    STORAGE_EMULATOR_HOST: gcs.http.url,
    GOOGLE_CLOUD_PROJECT: "spotrun-test",
  };
});
after(async () => {
  await box.cleanup();
  await s3.close();
  await gcs.close();
});

const jobsIn = async (): Promise<unknown[]> => {
  const st = await spotrun(box.home, ["status", "--all", "--json"]);
  assert.equal(st.code, 0, st.stderr);
  return (JSON.parse(st.stdout) as { jobs: unknown[] }).jobs;
};

const task = (store: string, extra = "") =>
  writeTask(
    box.work,
    `name: probe\nresources: {provider: local}\nworkdir: .\nrun: "true"\ncheckpoint: {store: "${store}"${extra}}\n`,
  );

const keys = async (bucket: string): Promise<string[]> =>
  ((await client.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []).map((o) => String(o.Key));

test("s3: a bucket that does not exist is refused at submit with the fix; --create-bucket makes it", async () => {
  const file = await task("s3://nope-bucket/runs");
  const refused = await spotrun(box.home, ["run", file, "--detach"], { env });
  assert.equal(refused.code, 2, refused.stderr);
  assert.equal(refused.stdout, "");
  assert.equal(refused.stderr.trimEnd().split("\n").length, 1, refused.stderr);
  assert.match(
    refused.stderr,
    /^spotrun: task\.yaml: checkpoint\.store: s3:\/\/nope-bucket\/runs: bucket "nope-bucket" does not exist \[NoSuchBucket\] — create it \(aws s3 mb s3:\/\/nope-bucket\), or let spotrun create it with checkpoint\.create_bucket: true/,
  );
  assert.deepEqual(await jobsIn(), [], "nothing was submitted");
  await assert.rejects(client.send(new HeadBucketCommand({ Bucket: "nope-bucket" })), "and no bucket was made");

  const made = await spotrun(box.home, ["run", file, "--create-bucket", "--json"], { env });
  assert.equal(made.code, 0, made.stderr);
  await client.send(new HeadBucketCommand({ Bucket: "nope-bucket" }));
  assert.equal((await jobsIn()).length, 1);
  assert.ok(!(await keys("nope-bucket")).some((k) => k.includes(".spotrun-probe-")), "the probe object is gone");
});

test("s3: a bucket that exists passes, leaving no probe object; a refused write is exit 2 naming the permissions", async () => {
  const file = await task("s3://ckpt/runs");
  const ok = await spotrun(box.home, ["run", file, "--json"], { env });
  assert.equal(ok.code, 0, ok.stderr);
  assert.ok(
    (await keys("ckpt")).every((k) => !k.includes(".spotrun-probe-")),
    `only the job's own objects: ${await keys("ckpt")}`,
  );
  const before = (await jobsIn()).length;
  const denied = await spotrun(box.home, ["run", file, "--detach"], { env: { ...env, AWS_ACCESS_KEY_ID: "NOT-S3RVER" } });
  assert.equal(denied.code, 2, denied.stderr);
  assert.match(
    denied.stderr,
    /^spotrun: task\.yaml: checkpoint\.store: s3:\/\/ckpt\/runs: writing to the store is refused .* — grant /,
  );
  assert.equal((await jobsIn()).length, before);
});

test("gs: a missing bucket is refused at submit; checkpoint.create_bucket: true creates it in the project", async () => {
  const refused = await spotrun(box.home, ["run", await task("gs://missing-bucket/runs"), "--detach"], { env });
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(
    refused.stderr,
    /^spotrun: task\.yaml: checkpoint\.store: gs:\/\/missing-bucket\/runs: bucket "missing-bucket" does not exist \[404\] — create it \(gcloud storage buckets create gs:\/\/missing-bucket\)/,
  );
  assert.ok(!gcs.buckets.includes("missing-bucket"));
  const before = (await jobsIn()).length;

  const made = await spotrun(box.home, ["run", await task("gs://missing-bucket/runs", ", create_bucket: true"), "--json"], {
    env,
  });
  assert.equal(made.code, 0, made.stderr);
  assert.ok(gcs.buckets.includes("missing-bucket"));
  assert.deepEqual(gcs.bucketProjects, ["spotrun-test"]);
  assert.equal((await jobsIn()).length, before + 1);
  assert.ok(
    [...gcs.objects.keys()].every((k) => !k.includes(".spotrun-probe-")),
    "the probe object is gone, the job's are there",
  );
});
