import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The root of this installation of spotrun (the directory of its package.json), found by walking
 * up from the running module: the same answer from tsc's dist/src/… and from the bundled
 * dist/cli/…, so paths to bin/, dist/agent/ and dist/dashboard-ui/ never depend on which runs.
 */
let root: string | undefined;

export function packageRoot(): string {
  if (root) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, "utf8")) as { name?: string }).name === "spotrun") return (root = dir);
      } catch {
        // not ours: keep walking up
      }
    }
    dir = dirname(dir);
  }
  // dist/src/base/package-root.js → the package root, as laid out by tsc.
  return (root = fileURLToPath(new URL("../../../", import.meta.url)));
}
