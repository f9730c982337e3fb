import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

/**
 * The modules a run recorded (test/support/module-recorder.ts), as file URLs. A chunk of the
 * bundled CLI (dist/cli/, scripts/build-cli.mjs) stands for the sources esbuild put in it, read
 * from the bundle's metafile: "loaded kysely" means the same whether kysely came from
 * node_modules or inside a chunk.
 */
export function loadedModules(log: string, repoRoot: string): string[] {
  const urls = [...new Set(readFileSync(log, "utf8").split("\n").filter(Boolean))];
  const metaFile = join(repoRoot, "dist", "cli", "meta.json");
  const meta = existsSync(metaFile)
    ? (JSON.parse(readFileSync(metaFile, "utf8")) as { outputs: Record<string, { inputs: Record<string, unknown> }> })
    : undefined;
  const cli = pathToFileURL(join(repoRoot, "dist", "cli")).href;
  return [
    ...new Set(
      urls.flatMap((u) => {
        if (!meta || !u.startsWith(`${cli}/`)) return [u];
        const chunk = meta.outputs[`dist/cli/${u.slice(cli.length + 1)}`];
        if (!chunk) return [u];
        return Object.keys(chunk.inputs).map((i) => pathToFileURL(join(repoRoot, i)).href);
      }),
    ),
  ];
}
