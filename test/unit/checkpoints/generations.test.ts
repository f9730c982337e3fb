import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { FileBlobStore } from "../../../src/checkpoints/file/file-blob-store.js";
import { CheckpointStore } from "../../../src/checkpoints/generations.js";

async function fixture() {
  const root = await mkdtemp(join(tmpdir(), "spotrun-gen-"));
  const src = join(root, "src");
  await mkdir(join(src, "sub"), { recursive: true });
  await writeFile(join(src, "step.txt"), "41");
  await writeFile(join(src, "sub", "weights.bin"), Buffer.alloc(100_000, 7));
  return { root, src, store: new CheckpointStore(new FileBlobStore(join(root, "store"))) };
}

test("save then restore the newest generation, byte for byte", async () => {
  const { root, src, store } = await fixture();
  await store.save(src, { jobId: "j", attempt: 0, reason: "periodic", now: 1000 });
  await writeFile(join(src, "step.txt"), "42");
  const m = await store.save(src, { jobId: "j", attempt: 1, reason: "notice", now: 500 });
  assert.equal((await store.latest())?.generation, m.generation, "attempt orders before time");
  const dest = join(root, "restored");
  const got = await store.restoreLatest(dest);
  assert.equal(got?.generation, m.generation);
  assert.equal(await readFile(join(dest, "step.txt"), "utf8"), "42");
  assert.equal((await readFile(join(dest, "sub", "weights.bin"))).length, 100_000);
  await rm(root, { recursive: true, force: true });
});

test("a torn generation (no manifest, or a missing object) is never resumed from", async () => {
  const { root, src, store } = await fixture();
  const good = await store.save(src, { jobId: "j", attempt: 0, reason: "periodic", now: 1 });
  // Torn: objects uploaded but the manifest never written.
  await store.blobs.putFile("g-000001-0000000000002/files/step.txt", join(src, "step.txt"));
  // Torn the other way: a manifest whose object vanished.
  const bad = await store.save(src, { jobId: "j", attempt: 2, reason: "notice", now: 3 });
  await store.blobs.deletePrefix(`${bad.generation}/files/sub/`);
  assert.equal((await store.latest())?.generation, good.generation);
  await rm(root, { recursive: true, force: true });
});

test("a corrupt object fails its sha256 and restore falls back to the older generation", async () => {
  const { root, src, store } = await fixture();
  const old = await store.save(src, { jobId: "j", attempt: 0, reason: "periodic", now: 1 });
  const newer = await store.save(src, { jobId: "j", attempt: 1, reason: "periodic", now: 2 });
  await store.blobs.putBytes(`${newer.generation}/files/step.txt`, Buffer.from("XX"));
  const dest = join(root, "restored");
  assert.equal((await store.restoreLatest(dest))?.generation, old.generation);
  await rm(root, { recursive: true, force: true });
});

test("prune keeps the last K verified generations", async () => {
  const { root, src, store } = await fixture();
  for (let i = 0; i < 5; i++) await store.save(src, { jobId: "j", attempt: 0, reason: "periodic", now: i + 1 });
  const removed = await store.prune(2);
  assert.equal(removed.length, 3);
  assert.equal((await store.verified()).length, 2);
  await rm(root, { recursive: true, force: true });
});
