import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, relative } from "node:path";
import { CLOUD_SDKS } from "../base/cloud-sdk.js";

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

/**
 * The cloud SDKs (optional dependencies) this installation lacks. The agent is bundled without
 * them, so a local-only install still builds it; an instance that then needs one says which.
 */
function missingCloudSdks(packageRoot: string): string[] {
  // Looked for as node_modules/<name>/ along Node's search path (not every SDK exports its package.json).
  const dirs = createRequire(join(packageRoot, "package.json")).resolve.paths("x") ?? [];
  return Object.values(CLOUD_SDKS)
    .flat()
    .filter((p) => !dirs.some((d) => existsSync(join(d, p, "package.json"))));
}

/**
 * A missing SDK bundles as a module that throws Node's own "Cannot find package" error when it
 * is first evaluated: inside the lazily imported checkpoint store that needs it, where
 * importCloud turns it into the one line naming the package (a plain external would be a static
 * import at the top of the one-file bundle, and stop every agent at its start).
 */
function missingSdkStubs(missing: readonly string[]) {
  return {
    name: "missing-cloud-sdk",
    setup(b: {
      onResolve(o: { filter: RegExp }, f: (a: { path: string }) => { path: string; namespace: string } | undefined): void;
      onLoad(o: { filter: RegExp; namespace: string }, f: (a: { path: string }) => { contents: string; loader: "js" }): void;
    }) {
      b.onResolve({ filter: /^@(aws-sdk|google-cloud)\// }, (a) =>
        missing.some((p) => a.path === p || a.path.startsWith(`${p}/`))
          ? { path: a.path, namespace: "missing-cloud-sdk" }
          : undefined,
      );
      b.onLoad({ filter: /.*/, namespace: "missing-cloud-sdk" }, (a) => ({
        loader: "js",
        contents: `throw Object.assign(new Error(${JSON.stringify(`Cannot find package '${a.path}' imported from the spotrun agent`)}), { code: "ERR_MODULE_NOT_FOUND" });`,
      }));
    },
  };
}

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
    plugins: [missingSdkStubs(missingCloudSdks(packageRoot))],
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
        .filter((f) => !f.includes("node_modules/") && !f.startsWith("missing-cloud-sdk:"))
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
