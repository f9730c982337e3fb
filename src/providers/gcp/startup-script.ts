/**
 * The metadata scripts a spotrun VM (or TPU worker) boots with. The startup script installs Node
 * and spotrun if missing and starts the agent, which watches the metadata server for the notice.
 * The shutdown script is the safety net GCE itself runs in the ~30 s between the preemption
 * notice and the hard stop: if the agent died it runs the same save; if the agent is alive it
 * waits for the agent's save to finish so the OS does not kill it halfway.
 */
export interface AgentScriptOptions {
  /** npm version spec for `npm install -g spotrun@…`. */
  spotrunVersion: string;
  /** Arguments after `spotrun agent run`. */
  agentArgs: string[];
  /** Environment for the agent (job id, checkpoint store, …). */
  env: Record<string, string>;
}

export const AGENT_PID_FILE = "/var/run/spotrun-agent.pid";
export const AGENT_SAVED_FILE = "/var/run/spotrun-agent.saved";
/** Leaves ~5 s of GCE's 30 s for the OS to stop after the save. */
export const SHUTDOWN_SAVE_SECONDS = 25;

/** POSIX single-quote a word for bash. */
export const shQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

function envLines(env: Record<string, string>): string {
  return Object.entries(env)
    .filter(([k]) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(k))
    .map(([k, v]) => `export ${k}=${shQuote(v)}`)
    .join("\n");
}

export function startupScript(o: AgentScriptOptions): string {
  return `#!/bin/bash
# spotrun startup script: install the agent if missing and start it.
set -euo pipefail
exec >>/var/log/spotrun-startup.log 2>&1
${envLines(o.env)}
if ! command -v node >/dev/null || ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)'; then
  curl -fsSL https://deb.nodesource.com/setup_20.x | bash -
  apt-get install -y nodejs
fi
command -v spotrun >/dev/null || npm install -g ${shQuote(`spotrun@${o.spotrunVersion}`)}
if [ -s ${AGENT_PID_FILE} ] && kill -0 "$(cat ${AGENT_PID_FILE})" 2>/dev/null; then exit 0; fi
rm -f ${AGENT_SAVED_FILE}
nohup spotrun agent run ${o.agentArgs.map(shQuote).join(" ")} >>/var/log/spotrun-agent.log 2>&1 &
echo $! > ${AGENT_PID_FILE}
`;
}

export function shutdownScript(o: AgentScriptOptions): string {
  return `#!/bin/bash
# spotrun shutdown script: GCE runs it on preemption with ~30 s left.
${envLines(o.env)}
pid="$(cat ${AGENT_PID_FILE} 2>/dev/null || true)"
if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
  # The agent saw the notice on the metadata server and is saving; give it the time.
  for _ in $(seq 1 ${SHUTDOWN_SAVE_SECONDS}); do
    [ -e ${AGENT_SAVED_FILE} ] && exit 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 1
  done
  [ -e ${AGENT_SAVED_FILE} ] && exit 0
fi
timeout ${SHUTDOWN_SAVE_SECONDS} spotrun agent save --reason shutdown ${o.agentArgs.map(shQuote).join(" ")} >>/var/log/spotrun-agent.log 2>&1 || true
`;
}
