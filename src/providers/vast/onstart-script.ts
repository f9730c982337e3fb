import { shellQuote } from "../../base/shell-quote.js";
import { FAILED_MARKER, READY_MARKER, waitForInstallThenRun } from "../install-wait.js";

/**
 * The container's `onstart` script: a Vast image (pytorch/pytorch, CUDA bases) has no Node, so
 * the script installs Node ≥ 20 and spotrun from the npm registry with the image's apt-get, then
 * writes a ready marker. The controller's SSH bootstrap may start before it is done, so the agent
 * command (agentCommand) waits for the marker. `SPOTRUN_ROOT` (unset on an instance) lets a test
 * run the script against a scratch directory.
 */
export { FAILED_MARKER, READY_MARKER };
export const ONSTART_LOG = "/var/log/spotrun-onstart.log";

export function onstartScript(opts: { spotrunVersion: string; npmRegistry?: string }): string {
  if (!/^[0-9A-Za-z.^~<>=*|-]+$/.test(opts.spotrunVersion)) throw new Error(`not an npm version spec: ${opts.spotrunVersion}`);
  const registry = opts.npmRegistry ? ` --registry ${shellQuote(opts.npmRegistry)}` : "";
  return `#!/bin/bash
# spotrun agent install for a Vast.ai container (onstart), spotrun ${opts.spotrunVersion}.
ROOT="\${SPOTRUN_ROOT:-}"
mkdir -p "$ROOT/var/lib/spotrun" "$ROOT/var/log"
exec >>"$ROOT${ONSTART_LOG}" 2>&1
echo "spotrun onstart: $(date -u +%FT%TZ)"
rm -f "$ROOT${FAILED_MARKER}"
fail() { echo "spotrun onstart: $1" | tee "$ROOT${FAILED_MARKER}" >&2; exit 1; }
node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
node_too_old() { ! command -v node >/dev/null 2>&1 || [ "$(node_major)" -lt 20 ]; }
if command -v spotrun >/dev/null 2>&1 && [ "$(spotrun --version 2>/dev/null)" = ${shellQuote(opts.spotrunVersion)} ]; then
  touch "$ROOT${READY_MARKER}"; exit 0
fi
if node_too_old || ! command -v npm >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || fail "no apt-get in this image: use an image with Node >= 20 and npm"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q || fail "apt-get update failed"
  apt-get install -y -q nodejs npm || fail "apt-get install nodejs npm failed"
fi
if node_too_old; then
  # The distro's Node predates 20: the npm registry's \`node\` package carries Node 20 binaries.
  npm install -g --no-fund --no-audit${registry} node@20 || fail "npm install node@20 failed"
  hash -r
fi
npm install -g --no-fund --no-audit${registry} spotrun@${shellQuote(opts.spotrunVersion)} || fail "npm install spotrun failed"
hash -r
command -v spotrun >/dev/null 2>&1 || fail "spotrun is not on PATH after npm install"
touch "$ROOT${READY_MARKER}"
echo "spotrun onstart: ready $(date -u +%FT%TZ)"
`;
}

/**
 * What the controller runs over SSH to start the agent: wait (up to `waitSeconds`) for the
 * onstart install, give up at once if it failed, then exec spotrun with the arguments given.
 */
export function agentLauncher(waitSeconds = 900, root = ""): string {
  return waitForInstallThenRun({ waitSeconds, log: ONSTART_LOG, what: "onstart", root });
}
