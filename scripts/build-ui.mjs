#!/usr/bin/env node
// `npm run build`'s last part: the dashboard's page, bundled by esbuild into dist/dashboard-ui
// (served by `spotrun dashboard`; nothing is fetched from a CDN at run time).
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const src = join(root, "src", "dashboard", "ui");
const out = join(root, "dist", "dashboard-ui");
mkdirSync(join(out, "assets"), { recursive: true });
const r = await build({
  entryPoints: [join(src, "main.tsx")],
  outfile: join(out, "assets", "app.js"),
  bundle: true,
  format: "esm",
  minify: true,
  target: "es2022",
  jsx: "automatic",
  jsxImportSource: "preact",
  legalComments: "none",
  metafile: true,
  logLevel: "warning",
});
copyFileSync(join(src, "index.html"), join(out, "index.html"));
copyFileSync(join(src, "app.css"), join(out, "assets", "app.css"));
const bytes = Object.values(r.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
console.error(`dashboard page: dist/dashboard-ui ${(bytes / 1024).toFixed(1)} KiB of JavaScript`);
