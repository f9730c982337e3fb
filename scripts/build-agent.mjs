#!/usr/bin/env node
// `npm run build`'s second half: bundle the agent artifact from tsc's output (see
// src/bootstrap/build-agent-artifact.ts). Run after `tsc -p tsconfig.json`.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { buildAgentArtifact } = await import(join(root, "dist", "src", "bootstrap", "build-agent-artifact.js"));
try {
  const m = await buildAgentArtifact(root);
  console.error(`agent artifact: dist/agent/${m.file} ${(m.bytes / 1048576).toFixed(2)} MB sha256 ${m.sha256.slice(0, 16)}`);
} catch (e) {
  console.error(`spotrun build: ${e.message} — fix the import so the agent's code stays free of it`);
  process.exit(1);
}
