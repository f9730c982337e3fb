import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CheckpointStore, generationName, MANIFEST } from "../../../src/checkpoints/generations.js";
import { GcsBlobStore, gcsStorageFromEnv } from "../../../src/checkpoints/gs/gcs-blob-store.js";
import { GcsServer } from "../../servers/gcp/gcs-server.js";

const BUCKET = "spotrun-ckpt";

describe("generation protocol on GCS through @google-cloud/storage (STORAGE_EMULATOR_HOST)", () => {
  let server: GcsServer;
  let dir: string;
  let store: CheckpointStore;
  const saved = process.env.STORAGE_EMULATOR_HOST;

  before(async () => {
    server = await new GcsServer([BUCKET]).start();
    server.pageSize = 3; // several list pages, as a real bucket with many objects has
    // The standard knob Google's own library reads; spotrun adds none.
    process.env.STORAGE_EMULATOR_HOST = server.http.url;
    dir = await mkdtemp(join(tmpdir(), "spotrun-gcs-"));
    store = new CheckpointStore(new GcsBlobStore(BUCKET, "jobs/j-1"), 4);
  });
  after(async () => {
    if (saved === undefined) delete process.env.STORAGE_EMULATOR_HOST;
    else process.env.STORAGE_EMULATOR_HOST = saved;
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const writeCkpt = async (name: string, files: Record<string, string>) => {
    const d = join(dir, name);
    for (const [p, c] of Object.entries(files)) {
      await mkdir(join(d, p, ".."), { recursive: true });
      await writeFile(join(d, p), c);
    }
    return d;
  };

  test("save uploads files then the manifest last; restore gets the newest verified generation", async () => {
    const src = await writeCkpt("c1", {
      "step.txt": "100",
      "shards/a.bin": "A".repeat(5000),
      "shards/b.bin": "B".repeat(7),
      "opt/m.json": "{}",
    });
    const m1 = await store.save(src, { jobId: "j-1", attempt: 1, reason: "periodic", now: Date.UTC(2026, 0, 1) });
    const uploads = server.http.received.filter((r) => r.method === "POST" && r.path === `/upload/storage/v1/b/${BUCKET}/o`);
    assert.equal(uploads.length, 5);
    const names = [...server.objects.keys()];
    assert.ok(names.every((n) => n.startsWith(`${BUCKET}/jobs/j-1/${m1.generation}/`)));
    assert.equal(names[names.length - 1], `${BUCKET}/jobs/j-1/${m1.generation}/${MANIFEST}`, "the manifest went up last");

    const src2 = await writeCkpt("c2", { "step.txt": "200", "shards/a.bin": "a".repeat(5000) });
    const m2 = await store.save(src2, { jobId: "j-1", attempt: 2, reason: "interruption", now: Date.UTC(2026, 0, 2) });
    const out = join(dir, "restored");
    const got = await store.restoreLatest(out);
    assert.equal(got?.generation, m2.generation);
    assert.equal(await readFile(join(out, "step.txt"), "utf8"), "200");
    assert.equal((await readFile(join(out, "shards/a.bin"), "utf8")).length, 5000);
    assert.ok(
      server.http.received.some((r) => r.query.get("alt") === "media"),
      "downloaded with alt=media",
    );
    assert.ok(
      server.http.received.some((r) => r.query.get("pageToken")),
      "listed across pages",
    );
  });

  test("a torn save (manifest never written) is ignored, and a corrupt generation falls back to the one before", async () => {
    const before = (await store.latest())?.generation;
    assert.ok(before);
    const torn = await writeCkpt("c3", { "step.txt": "300", "shards/a.bin": "T".repeat(10) });
    const tornGen = generationName(3, Date.UTC(2026, 0, 2));
    server.failUploads.add(`jobs/j-1/${tornGen}/${MANIFEST}`);
    await assert.rejects(store.save(torn, { jobId: "j-1", attempt: 3, reason: "interruption", now: Date.UTC(2026, 0, 2) }));
    assert.ok(
      [...server.objects.keys()].some((k) => k.includes(`${tornGen}/files/`)),
      "the torn generation's files are there",
    );
    assert.equal((await store.latest())?.generation, before, "the torn generation is not offered");

    // A newer generation whose object was overwritten with same-size garbage: listed as verified, refused on sha256.
    const bad = await writeCkpt("c4", { "step.txt": "400" });
    const m4 = await store.save(bad, { jobId: "j-1", attempt: 4, reason: "periodic", now: Date.UTC(2026, 0, 3) });
    const obj = server.objects.get(`${BUCKET}/jobs/j-1/${m4.generation}/files/step.txt`);
    assert.ok(obj);
    obj.data = Buffer.from("999");
    const out = join(dir, "restored2");
    const got = await store.restoreLatest(out);
    assert.equal(got?.generation, before);
    assert.equal(await readFile(join(out, "step.txt"), "utf8"), "200");
  });

  test("prune deletes older generations and torn leftovers through the delete API", async () => {
    const removed = await store.prune(1);
    assert.ok(removed.length >= 2);
    assert.ok(server.http.received.some((r) => r.method === "DELETE"));
    const left = new Set([...server.objects.keys()].map((k) => k.split("/")[3]));
    assert.equal(left.size, 1);
  });

  test("an object request GCS never answers fails at the time limit and the library retries it", async () => {
    const blobs = new GcsBlobStore(BUCKET, "stall", gcsStorageFromEnv({ timeoutMs: 400 }));
    server.http.stall(1, (r) => r.path.startsWith(`/upload/storage/v1/b/${BUCKET}/o`));
    const t0 = Date.now();
    await blobs.putBytes("a.txt", Buffer.from("after a stall"));
    const tries = server.http.received.filter(
      (r) => r.path.startsWith(`/upload/storage/v1/b/${BUCKET}/o`) && String(r.query.get("name")).startsWith("stall/"),
    );
    assert.equal(tries.length, 2, "the silent one, then the retry");
    assert.equal(Buffer.from((await blobs.getBytes("a.txt")) ?? []).toString(), "after a stall");
    assert.ok(Date.now() - t0 < 15_000, `${Date.now() - t0} ms`);
  });
});
