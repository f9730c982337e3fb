#!/usr/bin/env bash
# The whole test suite: type-check (strict) and build, lint and format check, then every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
echo "== lint + format (biome)" >&2
npx biome check src test bench examples >&2
# The bare test hosts boot from a cached Debian root (minutes when cold): build it beside the
# other tests; the tests that need it wait on its lock.
rootfs=""
if command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ]; then
  node scripts/bare-rootfs.mjs >&2 &
  rootfs=$!
fi
# A test file has 300 s in all: none may spend them waiting for a cold root (minutes, once per machine).
[ -z "$rootfs" ] || wait "$rootfs"
echo "== tests (node --test)" >&2
mapfile -t files < <(find dist/test -name '*.test.js' | sort)
node --test --test-concurrency="${TEST_CONCURRENCY:-2}" --test-timeout=300000 "$@" "${files[@]}"
