import { posix } from "node:path";

/**
 * Where bootstrap keeps things on an instance, under the transport's home: Node runtimes it
 * brought, agent artifacts by hash, and `bin/spotrun`, the launcher of the agent this
 * controller shipped (the agent puts it first on the user's PATH, and boot scripts call it).
 */
export function instancePaths(home: string) {
  const root = posix.join(home, ".spotrun");
  return {
    root,
    nodeDir: posix.join(root, "node"),
    agentDir: posix.join(root, "agent"),
    agentFile: (sha256: string) => posix.join(root, "agent", `${sha256}.mjs`),
    binDir: posix.join(root, "bin"),
    launcher: posix.join(root, "bin", "spotrun"),
  };
}

/** The launcher's path relative to a home, for scripts that know the home only at run time (`$home/…`). */
export const LAUNCHER_IN_HOME = ".spotrun/bin/spotrun";
