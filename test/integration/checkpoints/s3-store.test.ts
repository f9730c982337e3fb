import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { S3Client } from "@aws-sdk/client-s3";
import { CheckpointStore, MANIFEST, type Manifest } from "../../../src/checkpoints/generations.js";
import { S3BlobStore, s3ClientFromEnv } from "../../../src/checkpoints/s3/s3-blob-store.js";
import { startFaultProxy } from "../../support/fault-proxy.js";
import { S3RVER_CREDENTIALS, type S3rverFixture, startS3rver } from "../aws/s3rver-fixture.js";

/** The generation protocol on S3 (s3rver, the real @aws-sdk/client-s3 and lib-storage multipart). */
let s3: S3rverFixture;
let client: S3Client;
let work: string;
const commands: string[] = [];

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

before(async () => {
  s3 = await startS3rver(["ckpt"]);
  client = s3.client();
  // Observe (not alter) what the SDK sends, to see the multipart upload happen.
  client.middlewareStack.add(
    (next, context) => async (args) => {
      commands.push(String(context.commandName));
      return next(args);
    },
    { step: "initialize", name: "recordCommands" },
  );
  work = await mkdtemp(join(tmpdir(), "spotrun-s3-store-"));
});
after(async () => {
  await s3.close();
  await rm(work, { recursive: true, force: true });
});

test("save, ignore torn generations, restore the newest verified one; big files go up in parts", async () => {
  const store = new CheckpointStore(new S3BlobStore("ckpt", "jobs/j-1", client));
  assert.equal(store.url, "s3://ckpt/jobs/j-1");

  const dir1 = join(work, "g1");
  await mkdir(join(dir1, "opt"), { recursive: true });
  await writeFile(join(dir1, "step.txt"), "100");
  await writeFile(join(dir1, "opt", "state.bin"), randomBytes(4096));
  const m1 = await store.save(dir1, { jobId: "j-1", attempt: 0, reason: "periodic", now: 1_000 });
  assert.deepEqual(
    m1.files.map((f) => f.path),
    ["opt/state.bin", "step.txt"],
  );

  const dir2 = join(work, "g2");
  await mkdir(dir2, { recursive: true });
  const big = randomBytes(17 * 1024 * 1024 + 123);
  await writeFile(join(dir2, "model.bin"), big);
  await writeFile(join(dir2, "step.txt"), "200");
  commands.length = 0;
  const m2 = await store.save(dir2, { jobId: "j-1", attempt: 1, reason: "notice", now: 2_000 });
  assert.equal(m2.total_bytes, big.length + 3);
  assert.ok(commands.includes("CreateMultipartUploadCommand"), `commands: ${commands}`);
  assert.equal(commands.filter((c) => c === "UploadPartCommand").length, 2, "17 MiB in 16 MiB parts");
  assert.ok(commands.includes("CompleteMultipartUploadCommand"));
  assert.equal(commands.at(-1), "PutObjectCommand", "the manifest goes last");

  // Torn: a newer generation whose upload died before its manifest…
  const blobs = new S3BlobStore("ckpt", "jobs/j-1", client);
  await blobs.putBytes("g-000002-0000000003000/files/model.bin", randomBytes(1000));
  // …and one whose manifest names a file that never fully arrived.
  const lying: Manifest = { ...m2, generation: "g-000002-0000000004000", created_at: new Date(4000).toISOString() };
  await blobs.putBytes("g-000002-0000000004000/files/model.bin", randomBytes(10));
  await blobs.putBytes("g-000002-0000000004000/files/step.txt", Buffer.from("300"));
  await blobs.putBytes(`g-000002-0000000004000/${MANIFEST}`, Buffer.from(JSON.stringify(lying)));

  const verified = await store.verified();
  assert.deepEqual(
    verified.map((m) => m.generation),
    [m2.generation, m1.generation],
  );

  const restoreTo = join(work, "restored");
  const got = await store.restoreLatest(restoreTo);
  assert.equal(got?.generation, m2.generation);
  assert.equal(sha(await readFile(join(restoreTo, "model.bin"))), sha(big));
  assert.equal(await readFile(join(restoreTo, "step.txt"), "utf8"), "200");

  // Keep one: the older verified generation and the torn leftovers below the kept one go.
  const pruned = await store.prune(1);
  assert.deepEqual(pruned, [m1.generation]);
});

test("the store finds s3rver from AWS_ENDPOINT_URL_S3 alone, as it would find AWS on an instance", async () => {
  const keys = ["AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"] as const;
  const saved = Object.fromEntries(keys.map((k) => [k, process.env[k]]));
  process.env.AWS_ENDPOINT_URL_S3 = s3.endpoint;
  process.env.AWS_ACCESS_KEY_ID = S3RVER_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = S3RVER_CREDENTIALS.secretAccessKey;
  process.env.AWS_REGION = "us-east-1";
  const blobs = new S3BlobStore("ckpt", "env-configured");
  try {
    await blobs.putBytes("a/b.txt", Buffer.from("hello"));
    assert.deepEqual(await blobs.list(""), [{ key: "a/b.txt", size: 5 }]);
    assert.equal(Buffer.from((await blobs.getBytes("a/b.txt")) ?? []).toString(), "hello");
    assert.equal(await blobs.getBytes("missing"), undefined);
    await blobs.deletePrefix("a/");
    assert.deepEqual(await blobs.list(""), []);
  } finally {
    blobs.client.destroy();
    for (const k of keys) {
      const v = saved[k];
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
});

test("a request S3 never answers is dropped after the idle timeout and retried (the store's own client)", async () => {
  const proxy = await startFaultProxy({ target: s3.endpoint, dialect: "raw" });
  const saved = { ...process.env };
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_S3: proxy.url,
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    AWS_REGION: "us-east-1",
  });
  const c = s3ClientFromEnv({ idleTimeoutMs: 300 });
  try {
    const blobs = new S3BlobStore("ckpt", "stall", c);
    proxy.stall(1);
    const t0 = Date.now();
    await blobs.putBytes("a.txt", Buffer.from("after a stall"));
    assert.equal(proxy.faulted("stall").length, 1);
    assert.ok(proxy.connections >= 2, "the retry came on a new connection");
    assert.equal(Buffer.from((await blobs.getBytes("a.txt")) ?? []).toString(), "after a stall");
    assert.ok(Date.now() - t0 < 10_000, `${Date.now() - t0} ms`);
  } finally {
    c.destroy();
    process.env = saved;
    await proxy.close();
  }
});
