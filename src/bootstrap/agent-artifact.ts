import { readFileSync } from "node:fs";
import { join } from "node:path";
import { SpotrunError } from "../base/errors.js";
import { packageRoot } from "../base/package-root.js";
import { type AgentManifest, fileSha256 } from "./build-agent-artifact.js";

/** The agent this controller ships: its bytes' SHA-256 names it on every instance. */
export interface AgentArtifact {
  path: string;
  sha256: string;
  bytes: number;
  version: string;
}

export const ARTIFACT_MISSING = "AGENT_ARTIFACT_MISSING";

/**
 * The artifact is a build output of this very installation, so one process reads it once. A
 * stale one (an engineer ran tsc after the last bundle) is rebuilt when the bundler is installed,
 * so an instance never runs other code than the controller's.
 */
let loaded: Promise<AgentArtifact> | undefined;

export function agentArtifact(): Promise<AgentArtifact> {
  loaded ??= load(packageRoot()).catch((e) => {
    loaded = undefined;
    throw e;
  });
  return loaded;
}

async function load(root: string): Promise<AgentArtifact> {
  let manifest = readManifest(root);
  if (!manifest || isStale(root, manifest)) {
    const canBuild = await import("esbuild").then(
      () => true,
      () => false,
    );
    if (!canBuild)
      throw new SpotrunError(
        "failed",
        `the agent artifact in ${join(root, "dist", "agent")} is ${manifest ? "stale" : "missing"}`,
        {
          code: ARTIFACT_MISSING,
          fix: "run `npm run build` in the spotrun checkout (it bundles the agent the controller ships to instances)",
        },
      );
    const { buildAgentArtifact } = await import("./build-agent-artifact.js");
    manifest = await buildAgentArtifact(root);
  }
  const path = join(root, "dist", "agent", manifest.file);
  const sha256 = fileSha256(path);
  if (sha256 !== manifest.sha256)
    throw new SpotrunError("failed", `the agent artifact ${path} does not match its manifest (sha256 ${sha256.slice(0, 12)}…)`, {
      code: ARTIFACT_MISSING,
      fix: "run `npm run build` again",
    });
  return { path, sha256, bytes: manifest.bytes, version: manifest.version };
}

function readManifest(root: string): AgentManifest | undefined {
  try {
    return JSON.parse(readFileSync(join(root, "dist", "agent", "manifest.json"), "utf8")) as AgentManifest;
  } catch {
    return undefined;
  }
}

/** By content, not mtime: tsc rewrites every output on each run. */
function isStale(root: string, m: AgentManifest): boolean {
  for (const [f, sha] of Object.entries(m.inputs ?? {})) {
    try {
      if (fileSha256(join(root, f)) !== sha) return true;
    } catch {
      return true;
    }
  }
  return !m.inputs;
}
