#!/usr/bin/env bash
# Installs what spotrun's main job and its tests need on a fresh Debian machine:
# npm packages from the lockfile, and the real peers the integration tests talk to.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v sshd >/dev/null 2>&1 || [ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh >/dev/null 2>&1 || need+=(openssh-client)
command -v rsync >/dev/null 2>&1 || need+=(rsync)
command -v tmux >/dev/null 2>&1 || need+=(tmux)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v rclone >/dev/null 2>&1 || need+=(rclone)
command -v python3 >/dev/null 2>&1 || need+=(python3)
# The completion test runs `spotrun completion zsh|fish` in the real shells (bash is always there).
command -v zsh >/dev/null 2>&1 || need+=(zsh)
command -v fish >/dev/null 2>&1 || need+=(fish)
# Bare test hosts: a minimal Debian root made once (src/providers/local/bare-root).
command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] || need+=(debootstrap)
# The team state store's tests start a real PostgreSQL server of their own.
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
# promtool checks the metrics exposition; Debian ships it only inside the prometheus package.
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
# The dashboard's test drives Debian's Chromium (playwright-core downloads no browser of its own).
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ "${SPOTRUN_SKIP_APT:-}" != "1" ] && [ ${#need[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need[*]}" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # `npm ci` installs exactly what the committed lockfile pins and never rewrites it, so a fresh
  # clone stays clean. (The lockfile carries every platform's optional biome package; npm ci
  # refuses a lockfile without them.)
  echo "installing npm packages from the lockfile" >&2
  npm ci --no-audit --no-fund >&2
fi

npx tsc -p tsconfig.json >&2
# The agent artifact the controller ships to instances (dist/agent/).
node scripts/build-agent.mjs >&2
# The CLI bundled (dist/cli/): what bin/spotrun.js runs, a cold start without a file per module.
node scripts/build-cli.mjs >&2
# The dashboard's page (dist/dashboard-ui): type-checked on its own (DOM, JSX), bundled by esbuild.
npx tsc -p src/dashboard/ui/tsconfig.json >&2
node scripts/build-ui.mjs >&2
