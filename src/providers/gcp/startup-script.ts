import { LAUNCHER_IN_HOME } from "../../agent/instance-paths.js";
import { singleQuote } from "../../base/shell-quote.js";

/**
 * The metadata scripts a spotrun VM or TPU worker boots with.
 *
 * - `startup-script` does only what must happen before the controller's SSH bootstrap: mount the
 *   persistent disks, then write a ready marker. It installs nothing: the controller ships its
 *   own agent (and Node when the image has none) over SSH, and waits for the marker (bootMarkers).
 * - `shutdown-script` is the safety net GCE itself runs in the ~30 s between the preemption notice
 *   and the hard stop. The agent normally sees the notice on the metadata server (and SIGTERM) and
 *   saves; the script waits for it to finish so the OS does not cut the upload. If the agent died,
 *   it runs the same save (`spotrun agent save`, the shipped agent's launcher) from the agent's config, within 25 s.
 */
export const READY_MARKER = "/var/lib/spotrun/boot-ready";
export const FAILED_MARKER = "/var/lib/spotrun/boot-failed";
export const STARTUP_LOG = "/var/log/spotrun-startup.log";
/** Leaves ~5 s of GCE's 30 s for the OS to stop after the save. */
export const SHUTDOWN_SAVE_SECONDS = 25;

/** Mount each persistent disk (device name = disk name), formatting it on first use; grow the filesystem after a resize. */
function mountLines(volumes: { name: string; mount: string }[]): string {
  if (volumes.length === 0) return "";
  return `mount_volume() {
  dev="/dev/disk/by-id/google-$1"; dir="$2"
  for _ in $(seq 1 60); do [ -e "$dev" ] && break; sleep 1; done
  [ -e "$dev" ] || fail "persistent disk $1 is not attached"
  fresh=0
  blkid "$dev" >/dev/null 2>&1 || { mkfs.ext4 -q -m 0 -E lazy_itable_init=0,lazy_journal_init=0,discard "$dev" || fail "mkfs on $1 failed"; fresh=1; }
  mkdir -p "$dir"
  mountpoint -q "$dir" || mount -o discard,defaults "$dev" "$dir" || fail "mounting $1 on $dir failed"
  resize2fs "$dev" >/dev/null 2>&1 || true
  [ "$fresh" = 1 ] && chmod 1777 "$dir"
  return 0
}
${volumes.map((v) => `mount_volume ${singleQuote(v.name)} ${singleQuote(v.mount)}`).join("\n")}
`;
}

export function startupScript(opts: { volumes?: { name: string; mount: string }[] }): string {
  return `#!/bin/bash
# spotrun startup script (GCE VM / TPU worker): mount the persistent disks; nothing is installed.
mkdir -p /var/lib/spotrun
exec >>${STARTUP_LOG} 2>&1
echo "spotrun startup: $(date -u +%FT%TZ)"
rm -f ${FAILED_MARKER}
fail() { echo "spotrun startup: $1" | tee ${FAILED_MARKER} >&2; exit 1; }
${mountLines(opts.volumes ?? [])}touch ${READY_MARKER}
echo "spotrun startup: ready $(date -u +%FT%TZ)"
`;
}

export function shutdownScript(opts: { sshUser: string }): string {
  if (!/^[a-z_][a-z0-9_-]*$/.test(opts.sshUser)) throw new Error(`not a Linux user name: ${opts.sshUser}`);
  return `#!/bin/bash
# spotrun shutdown script: GCE runs it on preemption with ~30 s left.
home="$(getent passwd ${opts.sshUser} | cut -d: -f6)"
[ -n "$home" ] || exit 0
cfg="$home/.spotrun/agent.json"
[ -f "$cfg" ] || exit 0
pid="$(cat "$home/.spotrun/agent.pid" 2>/dev/null || true)"
if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
  # The agent saw the notice and is saving; it exits when its upload is done.
  for _ in $(seq 1 $((${SHUTDOWN_SAVE_SECONDS} * 5))); do
    kill -0 "$pid" 2>/dev/null || exit 0
    sleep 0.2
  done
  exit 0
fi
# The agent is gone: run the same save (hook within the deadline, then the upload) ourselves.
[ -x "$home/${LAUNCHER_IN_HOME}" ] || exit 0
timeout ${SHUTDOWN_SAVE_SECONDS} runuser -u ${opts.sshUser} -- "$home/${LAUNCHER_IN_HOME}" agent save --config "$cfg" --reason shutdown >>"$home/.spotrun/agent.err" 2>&1 || true
`;
}
