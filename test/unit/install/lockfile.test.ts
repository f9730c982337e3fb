import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { test } from "node:test";

// `npm ci` refuses a lockfile that lacks an entry for any optional dependency, even one for another
// platform (biome ships one package per platform), and `npm install` would add them — leaving a
// fresh clone dirty. Every optional dependency named in the lockfile must have its own entry.

interface LockEntry {
  version?: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

function readLock(): { lockfileVersion: number; packages: Record<string, LockEntry> } {
  return JSON.parse(readFileSync(resolve(process.cwd(), "package-lock.json"), "utf8"));
}

function resolvesFrom(packages: Record<string, LockEntry>, from: string, dep: string): boolean {
  let base = from;
  for (;;) {
    if (packages[`${base ? `${base}/` : ""}node_modules/${dep}`]) return true;
    if (base === "") return false;
    const cut = base.lastIndexOf("/node_modules/");
    base = cut < 0 ? "" : base.slice(0, cut);
  }
}

test("the committed lockfile has an entry for every optional dependency of every platform", () => {
  const lock = readLock();
  assert.ok(lock.lockfileVersion >= 2);
  const missing: string[] = [];
  let optionals = 0;
  for (const [path, entry] of Object.entries(lock.packages)) {
    for (const dep of Object.keys(entry.optionalDependencies ?? {})) {
      optionals++;
      if (!resolvesFrom(lock.packages, path, dep)) missing.push(`${path || "(root)"} → ${dep}`);
    }
  }
  assert.ok(optionals > 0, "the lockfile names optional dependencies (biome has one per platform)");
  assert.deepEqual(missing, []);
});

test("the lockfile pins every dependency package.json names, with the same ranges", () => {
  const manifest = JSON.parse(readFileSync(resolve(process.cwd(), "package.json"), "utf8")) as LockEntry;
  const lock = readLock();
  const root = lock.packages[""];
  assert.ok(root, "the lockfile has its root entry");
  assert.deepEqual(root.dependencies ?? {}, manifest.dependencies ?? {});
  assert.deepEqual(root.devDependencies ?? {}, manifest.devDependencies ?? {});
  const unpinned = Object.keys({ ...manifest.dependencies, ...manifest.devDependencies }).filter(
    (name) => !lock.packages[`node_modules/${name}`]?.version,
  );
  assert.deepEqual(unpinned, []);
});
