import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { estimateSize } from "../../../src/sessions/session-lifecycle.js";
import { parseSessionText } from "../../../src/sessions/session-schema.js";
import { localVolumeDir } from "../../../src/sessions/volume.js";

describe("sizing a session's volume", () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "spotrun-size-"));
    await mkdir(join(root, "data"));
    await writeFile(join(root, "data", "db"), Buffer.alloc(600));
    await mkdir(join(localVolumeDir(root, "s"), "home"), { recursive: true });
    await writeFile(join(localVolumeDir(root, "s"), "home", "x"), Buffer.alloc(300));
  });
  after(() => rm(root, { recursive: true, force: true }));

  const file = (size: string) =>
    parseSessionText(`persist: [${join(root, "data")}]\nagents: [{name: a, command: x}]\nvolume: {size: ${size}}\n`, "s.yaml");

  test("the paths as they are here plus what the volume holds; a warning past 80% of the size", async () => {
    const tight = await estimateSize(root, "s", file("1000B"));
    assert.deepEqual(tight, { estimate_bytes: 900, size_bytes: 1000, suggested_bytes: 1024 ** 3, warn: true });
    const roomy = await estimateSize(root, "s", file("2000B"));
    assert.equal(roomy.warn, false);
    const fresh = await estimateSize(root, "other", file("10GB"));
    assert.equal(fresh.estimate_bytes, 600, "a session with no volume yet counts only the paths");
  });
});
