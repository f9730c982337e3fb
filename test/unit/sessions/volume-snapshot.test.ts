import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  isFreshVolume,
  readVolumeMeta,
  recordStartedAgents,
  startedAgents,
  usedBytes,
  writeVolumeMeta,
} from "../../../src/sessions/volume.js";
import { restoreSnapshot, SNAPSHOT_FILE, writeSnapshot } from "../../../src/sessions/volume-snapshot.js";

describe("volume snapshots", () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "spotrun-snap-"));
  });
  after(() => rm(root, { recursive: true, force: true }));

  test("a snapshot restores into a fresh volume, without the old volume's size record", async () => {
    const vol = join(root, "v1");
    const ck = join(root, "ck");
    await mkdir(join(vol, "home", ".agent-state"), { recursive: true });
    await mkdir(ck);
    await writeFile(join(vol, "home", ".agent-state", "db"), "conversation");
    await writeVolumeMeta(vol, { session: "s", size_bytes: 1024, created_at: 1 });
    await recordStartedAgents(vol, ["b", "a"]);
    const bytes = await writeSnapshot(vol, ck);
    assert.ok(bytes > 0);
    assert.deepEqual(readdirSync(ck), [SNAPSHOT_FILE], "no temp file left behind");

    const fresh = join(root, "v2");
    await mkdir(fresh);
    await writeVolumeMeta(fresh, { session: "s", size_bytes: 4096, created_at: 2 });
    assert.equal(await isFreshVolume(fresh), true);
    assert.equal(await restoreSnapshot(ck, fresh), bytes);
    assert.equal(readFileSync(join(fresh, "home", ".agent-state", "db"), "utf8"), "conversation");
    assert.equal((await readVolumeMeta(fresh))?.size_bytes, 4096, "the new disk keeps its own size");
    assert.deepEqual([...(await startedAgents(fresh))], ["a", "b"], "who has run before travels with the data");
    assert.equal(await isFreshVolume(fresh), false);
  });

  test("no snapshot: nothing restored; a failed snapshot leaves the previous one and no temp file", async () => {
    const ck = join(root, "ck2");
    await mkdir(ck);
    assert.equal(await restoreSnapshot(ck, join(root, "nowhere")), undefined);
    await writeFile(join(ck, SNAPSHOT_FILE), "previous");
    await assert.rejects(writeSnapshot(join(root, "missing-volume"), ck));
    assert.deepEqual(readdirSync(ck), [SNAPSHOT_FILE]);
    assert.equal(readFileSync(join(ck, SNAPSHOT_FILE), "utf8"), "previous");
  });

  test("usage counts file bytes under the volume", async () => {
    const v = join(root, "v3");
    await mkdir(join(v, "a", "b"), { recursive: true });
    await writeFile(join(v, "a", "x"), Buffer.alloc(1000));
    await writeFile(join(v, "a", "b", "y"), Buffer.alloc(24));
    assert.equal(await usedBytes(v), 1024);
    assert.equal(await usedBytes(join(root, "none")), 0);
    assert.ok(!existsSync(join(root, "none")));
  });
});
