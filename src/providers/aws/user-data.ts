/**
 * Cloud-init user data (a POSIX sh script) for a stock AMI: only what must happen before the
 * controller's first SSH login — the spot configuration in /etc/spotrun/spot.json, an embedded
 * checkpoint script, and the interruption guard as a systemd unit. Nothing is installed: the
 * controller ships its own agent (and Node when the image lacks one) over SSH, and the unit
 * waits until that agent's launcher is in the SSH user's home. It writes a ready marker last.
 * `SPOTRUN_ROOT` (unset on an instance) lets a test run the script against a scratch directory.
 */
export interface SpotConfig {
  provider: "aws";
  spot: boolean;
  on_interruption: "checkpoint" | "hibernate" | "stop" | "terminate";
  checkpoint_script: string | null;
  checkpoint_timeout_s: number;
  max_price_usd: number | null;
  job_id: string | null;
  attempt_id: string | null;
}

export interface UserDataOptions {
  config: SpotConfig;
  /** The login the controller uses; its home gets the agent's launcher (`~/.spotrun/bin/spotrun`). */
  sshUser: string;
  /** A checkpoint script from the user's machine, shipped inside the user data (it has no other way there). */
  checkpointScriptBody?: string;
}

export const BOOT_LOG = "/var/log/spotrun-boot.log";
export const BOOT_READY = "/var/lib/spotrun/boot-ready";
export const BOOT_FAILED = "/var/lib/spotrun/boot-failed";

export const SPOT_CONFIG_PATH = "/etc/spotrun/spot.json";
export const EMBEDDED_CHECKPOINT_PATH = "/etc/spotrun/checkpoint.sh";
export const AGENT_UNIT = "spotrun-agent.service";

export function userDataScript(opts: UserDataOptions): string {
  if (!/^[a-z_][a-z0-9_-]*$/.test(opts.sshUser)) throw new Error(`not a Linux user name: ${opts.sshUser}`);
  const body = opts.checkpointScriptBody;
  const config = JSON.stringify(
    body === undefined ? opts.config : { ...opts.config, checkpoint_script: EMBEDDED_CHECKPOINT_PATH },
    null,
    2,
  );
  // A quoted heredoc is literal; its delimiter just must not occur as a line of the script.
  let delimiter = "SPOTRUN_CHECKPOINT_EOF";
  while (body?.split("\n").includes(delimiter)) delimiter += "_";
  const embedded =
    body === undefined
      ? ""
      : `cat > "$ROOT${EMBEDDED_CHECKPOINT_PATH}" <<'${delimiter}'\n${body.endsWith("\n") ? body : `${body}\n`}${delimiter}\nchmod 0755 "$ROOT${EMBEDDED_CHECKPOINT_PATH}"\n`;
  return `#!/bin/sh
# spotrun instance boot (cloud-init user data): spot configuration and the guard unit; nothing installed.
ROOT="\${SPOTRUN_ROOT:-}"
mkdir -p "$ROOT/var/log" "$ROOT/var/lib/spotrun"
exec >>"$ROOT${BOOT_LOG}" 2>&1
echo "spotrun boot: start $(date -u +%FT%TZ)"
rm -f "$ROOT${BOOT_FAILED}"
fail() { echo "spotrun boot: $1" | tee "$ROOT${BOOT_FAILED}" >&2; exit 1; }
home="$(getent passwd ${opts.sshUser} 2>/dev/null | cut -d: -f6)"
[ -n "$home" ] || home="/home/${opts.sshUser}"

mkdir -p "$ROOT/etc/spotrun" || fail "cannot create /etc/spotrun"
cat > "$ROOT${SPOT_CONFIG_PATH}.tmp" <<'SPOTRUN_CONFIG_EOF'
${config}
SPOTRUN_CONFIG_EOF
mv "$ROOT${SPOT_CONFIG_PATH}.tmp" "$ROOT${SPOT_CONFIG_PATH}" && chmod 0644 "$ROOT${SPOT_CONFIG_PATH}" || fail "cannot write ${SPOT_CONFIG_PATH}"
${embedded}
# The guard waits for the agent the controller ships over SSH, then watches for notices.
mkdir -p "$ROOT/etc/systemd/system"
cat > "$ROOT/etc/systemd/system/${AGENT_UNIT}" <<SPOTRUN_UNIT_EOF
[Unit]
Description=spotrun agent: spot interruption guard
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
ExecStartPre=/bin/sh -c 'while [ ! -x "$home/.spotrun/bin/spotrun" ]; do sleep 2; done'
ExecStart=$home/.spotrun/bin/spotrun agent guard --provider aws --config ${SPOT_CONFIG_PATH}
TimeoutStartSec=infinity
# Restarted when it fails or dies; after a notice it ran the script for, it exits 0 and stays down
# (a restarted guard sees the same notice and does not run the script again).
Restart=on-failure
RestartSec=2
# The agent has up to two minutes after a notice; give it all of them on shutdown.
TimeoutStopSec=120
KillMode=mixed

[Install]
WantedBy=multi-user.target
SPOTRUN_UNIT_EOF
if command -v systemctl >/dev/null 2>&1 && [ -z "$ROOT" ]; then
  systemctl daemon-reload && systemctl enable --no-block --now ${AGENT_UNIT} || fail "systemctl enable ${AGENT_UNIT} failed"
fi
touch "$ROOT${BOOT_READY}"
echo "spotrun boot: ready $(date -u +%FT%TZ)"
`;
}
