import assert from "node:assert/strict";
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { linkPersistPath, mapPersistPath } from "../../../src/sessions/persist-paths.js";

describe("persisted paths", () => {
  let root: string;
  let home: string;
  let vol: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "spotrun-persist-"));
    home = join(root, "home");
    vol = join(root, "vol");
    await mkdir(home);
  });
  after(() => rm(root, { recursive: true, force: true }));

  test("~ is the instance HOME; absolute paths keep their shape under root/", () => {
    assert.deepEqual(mapPersistPath("~/.agent-state", "/h", "/v"), {
      spec: "~/.agent-state",
      target: "/h/.agent-state",
      inVolume: "/v/home/.agent-state",
    });
    assert.deepEqual(mapPersistPath("/workspaces/a", "/h", "/v"), {
      spec: "/workspaces/a",
      target: "/workspaces/a",
      inVolume: "/v/root/workspaces/a",
    });
  });

  test("a missing path becomes a symlink to a new volume directory; a second run leaves it be", async () => {
    const m = mapPersistPath("~/deep/state", home, vol);
    assert.equal(await linkPersistPath(m), "linked");
    assert.ok(lstatSync(m.target).isSymbolicLink());
    assert.equal(readlinkSync(m.target), join(vol, "home", "deep", "state"));
    await writeFile(join(m.target, "db"), "x");
    assert.equal(readFileSync(join(m.inVolume, "db"), "utf8"), "x");
    assert.equal(await linkPersistPath(m), "already");
    assert.equal(readFileSync(join(m.target, "db"), "utf8"), "x");
  });

  test("a real directory the image brought moves into an empty slot, and is kept", async () => {
    const m = mapPersistPath("~/brought", home, vol);
    await mkdir(m.target);
    await writeFile(join(m.target, "f"), "from the image");
    assert.equal(await linkPersistPath(m), "adopted");
    assert.ok(lstatSync(m.target).isSymbolicLink());
    assert.equal(readFileSync(join(m.inVolume, "f"), "utf8"), "from the image");
  });

  test("when the volume already holds the path, the volume wins and the instance's copy is set aside", async () => {
    const m = mapPersistPath("~/both", home, vol);
    await mkdir(m.inVolume, { recursive: true });
    await writeFile(join(m.inVolume, "f"), "volume");
    await mkdir(m.target);
    await writeFile(join(m.target, "f"), "instance");
    assert.equal(await linkPersistPath(m), "linked");
    assert.equal(readFileSync(join(m.target, "f"), "utf8"), "volume");
    const aside = readdirSync(home).find((n) => n.startsWith("both.spotrun-replaced-"));
    assert.ok(aside);
    assert.equal(readFileSync(join(home, aside, "f"), "utf8"), "instance");
  });

  test("a stale symlink (an earlier volume path) is replaced", async () => {
    const m = mapPersistPath("~/stale", home, vol);
    await symlink(join(root, "elsewhere"), m.target);
    assert.equal(await linkPersistPath(m), "linked");
    assert.equal(readlinkSync(m.target), m.inVolume);
    assert.ok(existsSync(m.inVolume));
  });
});
