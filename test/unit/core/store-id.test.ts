import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { test } from "node:test";
import { storeId } from "../../../src/core/store-id.js";

const moduleUrl = new URL(`file://${resolve("dist/src/core/store-id.js")}`).href;

/** storeId in a process of its own, called at `at` (ms since the epoch) so every process calls it within the same millisecond or so. */
function idFromAnotherProcess(home: string, at: number): Promise<string> {
  return new Promise((ok, fail) => {
    const p = spawn(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `import { storeId } from ${JSON.stringify(moduleUrl)}; while (Date.now() < Number(process.argv[2])); process.stdout.write(storeId(process.argv[1]))`,
        home,
        String(at),
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    let err = "";
    p.stdout.on("data", (b) => (out += b));
    p.stderr.on("data", (b) => (err += b));
    p.on("exit", (code) => (code === 0 ? ok(out) : fail(new Error(`exit ${code}: ${err}`))));
  });
}

test("a fresh home's store id: processes racing to make it all get the same one, and leave no candidate behind", async () => {
  const root = await mkdtemp(join(tmpdir(), "spotrun-store-id-"));
  try {
    // Two processes (this machine may have two cores) released in the same millisecond, 15 times:
    // the old create-exclusive-then-write lost about one round in four with EEXIST.
    for (let round = 0; round < 15; round++) {
      const home = join(root, `home-${round}`);
      const at = Date.now() + 400;
      const ids = await Promise.all([0, 1].map(() => idFromAnotherProcess(home, at)));
      assert.match(ids[0] as string, /^[0-9a-f]{12}$/);
      assert.equal(ids[1], ids[0], `round ${round}`);
      assert.deepEqual(await readdir(home), ["store-id"]);
      assert.equal(storeId(home), ids[0]);
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test("an existing store id is kept", async () => {
  const home = await mkdtemp(join(tmpdir(), "spotrun-store-id-"));
  try {
    await writeFile(join(home, "store-id"), "abcdef012345\n");
    assert.equal(storeId(home), "abcdef012345");
  } finally {
    await rm(home, { recursive: true, force: true });
  }
});
