import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";

/**
 * Bundles the agent artifact the controller ships to every instance: one ES module with its
 * pure-JS dependencies (the S3/GCS SDKs the checkpoint stores load, commander, zod, pino, yaml),
 * no native addon, named by its SHA-256. The input is tsc's output in dist/, so the artifact is
 * exactly the code that was type-checked. esbuild is a build tool (a dev dependency): an installed
 * package carries the built artifact and never bundles.
 */
export interface AgentManifest {
  file: string;
  sha256: string;
  bytes: number;
  version: string;
  node_min_major: number;
  /** The dist/ files bundled (relative to the package root) and their SHA-256: a changed one makes the artifact stale. */
  inputs: Record<string, string>;
}

export const ARTIFACT_BUDGET_BYTES = 15 * 1024 * 1024;
export const NODE_MIN_MAJOR = 20;
/** Packages the agent must never need: the controller's native SQLite and SSH client, its databases. */
const CONTROLLER_ONLY = ["better-sqlite3", "ssh2", "cpu-features", "kysely", "pg", "pg-native"];

export const fileSha256 = (path: string): string => createHash("sha256").update(readFileSync(path)).digest("hex");

export class ArtifactBuildError extends Error {
  override readonly name = "ArtifactBuildError";
}

export async function buildAgentArtifact(packageRoot: string): Promise<AgentManifest> {
  const { build } = await import("esbuild");
  const outDir = join(packageRoot, "dist", "agent");
  const version = (JSON.parse(readFileSync(join(packageRoot, "package.json"), "utf8")) as { version: string }).version;
  mkdirSync(outDir, { recursive: true });
  const result = await build({
    entryPoints: [join(packageRoot, "dist", "src", "cli", "instance-bin.js")],
    absWorkingDir: packageRoot,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    minify: true,
    legalComments: "none",
    metafile: true,
    write: false,
    logLevel: "silent",
    define: { "process.env.SPOTRUN_BUILD_VERSION": JSON.stringify(version) },
    // CommonJS dependencies call require() on Node's modules and read __dirname; an ES module has neither.
    banner: {
      js: [
        'import { createRequire as __spotrunRequire } from "node:module";',
        'import { fileURLToPath as __spotrunPath } from "node:url";',
        'import { dirname as __spotrunDir } from "node:path";',
        "const require = __spotrunRequire(import.meta.url);",
        "const __filename = __spotrunPath(import.meta.url);",
        "const __dirname = __spotrunDir(__filename);",
      ].join("\n"),
    },
  });
  const inputs = Object.keys(result.metafile.inputs);
  const forbidden = inputs.filter((f) => f.endsWith(".node") || CONTROLLER_ONLY.some((p) => f.includes(`node_modules/${p}/`)));
  if (forbidden.length > 0)
    throw new ArtifactBuildError(`the agent bundle reaches native or controller-only code: ${forbidden.slice(0, 5).join(", ")}`);
  const out = result.outputFiles[0];
  if (!out) throw new ArtifactBuildError("esbuild wrote no output");
  const bytes = out.contents;
  if (bytes.length > ARTIFACT_BUDGET_BYTES)
    throw new ArtifactBuildError(`the agent bundle is ${bytes.length} bytes, over the ${ARTIFACT_BUDGET_BYTES}-byte budget`);
  const manifest: AgentManifest = {
    file: "spotrun-agent.mjs",
    sha256: createHash("sha256").update(bytes).digest("hex"),
    bytes: bytes.length,
    version,
    node_min_major: NODE_MIN_MAJOR,
    inputs: Object.fromEntries(
      inputs
        .filter((f) => !f.includes("node_modules/"))
        .map((f) => [relative(packageRoot, join(packageRoot, f)), fileSha256(join(packageRoot, f))]),
    ),
  };
  // Each file is written beside, then renamed, and the manifest last: a reader never sees half an artifact.
  const file = join(outDir, manifest.file);
  writeFileSync(`${file}.${process.pid}.tmp`, bytes);
  renameSync(`${file}.${process.pid}.tmp`, file);
  const m = join(outDir, "manifest.json");
  writeFileSync(`${m}.${process.pid}.tmp`, `${JSON.stringify(manifest, null, 1)}\n`);
  renameSync(`${m}.${process.pid}.tmp`, m);
  return manifest;
}
