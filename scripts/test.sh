#!/usr/bin/env bash
# The whole test suite: type-check (strict) and build, lint and format check, then every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
echo "== lint + format (biome)" >&2
npx biome check src test bench examples >&2
echo "== tests (node --test)" >&2
mapfile -t files < <(find dist/test -name '*.test.js' | sort)
node --test --test-concurrency="${TEST_CONCURRENCY:-2}" --test-timeout=300000 "$@" "${files[@]}"
