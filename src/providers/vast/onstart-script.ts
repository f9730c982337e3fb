/**
 * The container's `onstart` script. A Vast instance needs nothing before SSH: the controller
 * ships its own agent (and Node, which Vast images lack) over SSH, so the script only leaves a
 * line in its log saying so. `SPOTRUN_ROOT` (unset on an instance) lets a test run it against a
 * scratch directory.
 */
export const ONSTART_LOG = "/var/log/spotrun-onstart.log";

export function onstartScript(): string {
  return `#!/bin/sh
# spotrun onstart (Vast.ai): nothing to install; the controller ships its agent over SSH.
ROOT="\${SPOTRUN_ROOT:-}"
mkdir -p "$ROOT/var/log"
echo "spotrun onstart: $(date -u +%FT%TZ) nothing to install" >>"$ROOT${ONSTART_LOG}"
`;
}
