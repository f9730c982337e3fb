#!/usr/bin/env node
// Build (once) the cached minimal Debian root the bare test hosts boot from, printing progress.
// scripts/test.sh starts it ahead of the tests that need it; they wait on its lock.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { ensureBareRootfs } = await import(join(root, "dist", "src", "providers", "local", "bare-root", "bare-rootfs.js"));
try {
  const dir = await ensureBareRootfs({ progress: (line) => console.error(`bare-rootfs: ${line}`) });
  console.error(`bare-rootfs: ${dir}`);
} catch (e) {
  console.error(`spotrun: cannot build the bare-host root: ${e.message} — run scripts/install-deps.sh (debootstrap) and check the Debian mirror is reachable`);
  process.exit(1);
}
