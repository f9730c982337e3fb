#!/usr/bin/env node
// `npm run build`: the CLI bundled by esbuild from tsc's output into dist/cli/ (one chunk per lazily
// imported part, so `--help` still loads only the definitions). Node's ES module loader pays per
// file: kysely alone is 279 of them, and a cold `spotrun status --json` read most of its time in
// loading. bin/spotrun.js runs the bundle while it is at least as new as tsc's dist/src/cli/main.js
// (after a bare `tsc`, the sources it was built from have changed: dist/src runs as it is).
// Native addons, pg and the optional cloud SDKs stay outside, resolved from node_modules.
import { rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "dist", "cli");
rmSync(out, { recursive: true, force: true });
const r = await build({
  entryPoints: [join(root, "dist", "src", "cli", "main.js")],
  absWorkingDir: root,
  outdir: out,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  sourcemap: true,
  metafile: true,
  logLevel: "warning",
  external: [
    "better-sqlite3",
    "ssh2",
    "cpu-features",
    "pg",
    "pg-native",
    "@aws-sdk/*",
    "@google-cloud/*",
    "esbuild",
    "playwright-core",
  ],
  // CommonJS dependencies call require() on Node's modules; an ES module has no require of its own.
  banner: {
    js: 'import { createRequire as __spotrunRequire } from "node:module"; const require = __spotrunRequire(import.meta.url);',
  },
});
// Which sources each chunk holds: test/e2e/cli-lean.test.ts reads it to tell what a command loaded.
writeFileSync(join(out, "meta.json"), JSON.stringify(r.metafile));
const outputs = Object.entries(r.metafile.outputs).filter(([f]) => f.endsWith(".js"));
const bytes = outputs.reduce((n, [, o]) => n + o.bytes, 0);
console.error(`cli bundle: dist/cli ${outputs.length} chunks, ${(bytes / 1048576).toFixed(2)} MB`);
