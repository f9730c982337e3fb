/**
 * The official Node release an instance may download when its image has no Node ≥ 20: the
 * tarball's SHA-256 from the release's SHASUMS256.txt, pinned here, so nothing unpinned runs.
 * The mirror is configurable (`SPOTRUN_NODE_MIRROR`) for air-gapped users who copy nodejs.org/dist.
 */
export interface NodePin {
  version: string;
  /** Node's name for the architecture (`x64`, `arm64`). */
  arch: string;
  file: string;
  sha256: string;
}

export const DEFAULT_NODE_MIRROR = "https://nodejs.org/dist";
const VERSION = "v20.18.0";

export const NODE_PINS: readonly NodePin[] = [
  {
    version: VERSION,
    arch: "x64",
    file: `node-${VERSION}-linux-x64.tar.xz`,
    sha256: "4543670b589593f8fa5f106111fd5139081da42bb165a9239f05195e405f240a",
  },
  {
    version: VERSION,
    arch: "arm64",
    file: `node-${VERSION}-linux-arm64.tar.xz`,
    sha256: "a9ce85675ba33f00527f6234d90000946c0936fb4fca605f1891bb5f4fe6fb0a",
  },
];

/** `uname -m` → Node's architecture name; undefined for one Node has no release for. */
export function nodeArch(unameM: string): string | undefined {
  switch (unameM) {
    case "x86_64":
    case "amd64":
      return "x64";
    case "aarch64":
    case "arm64":
      return "arm64";
    default:
      return undefined;
  }
}
