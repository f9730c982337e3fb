#!/usr/bin/env bash
# The README's main job: a managed job on the local provider whose spot market interrupts it three
# times; spotrun checkpoints on each notice, resumes on a new instance, and reports cost and savings.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
export SPOTRUN_HOME="${SPOTRUN_HOME:-$PWD/.spotrun}"
node bin/spotrun.js run examples/quickstart/task.yaml
echo
node bin/spotrun.js cost
