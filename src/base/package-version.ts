import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The version of the running spotrun, so instances install the same one (found by walking up to package.json). */
export function packageVersion(): string {
  // The agent artifact has no package.json beside it: its build writes the version in here.
  const built = process.env.SPOTRUN_BUILD_VERSION;
  if (built) return built;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: string; version?: string };
      if (pkg.name === "spotrun" && pkg.version) return pkg.version;
    } catch {
      // not here: keep walking up
    }
    dir = dirname(dir);
  }
  return "latest";
}
