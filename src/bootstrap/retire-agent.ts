import { AGENT_DIR, type ControlRequest } from "../agent/protocol.js";
import { shellQuote } from "../base/shell-quote.js";
import type { Transport } from "../transport/transport.js";
import { BootstrapError } from "./bootstrap-error.js";

const STILL_STOPPING = 75;

/** The files an agent keeps for its attempt; moved aside whole when the next attempt's agent starts on the same instance. */
const ATTEMPT_FILES = ["events.jsonl", "run.log", "heartbeat", "control.json", "agent.json", "agent.err", "agent.pid"];

/**
 * An instance kept from the job's last attempt (recovery.partial) still holds that attempt's agent
 * and its files. Before the next attempt's agent starts there: ask the old one to stop (again: the
 * controller asked when it kept the node, but may have died since), wait for it to exit, and move
 * its files into `attempt-<n>/`, so the new agent's events and log start at offset 0 and nothing
 * the old agent wrote is read as the new one's. A fresh instance, or a repeat of this attempt's
 * own bootstrap, has nothing to retire. Returns the attempt retired, if one was.
 */
export async function retirePreviousAgent(
  t: Transport,
  instanceId: string,
  attempt: number,
  waitMs: number,
): Promise<number | undefined> {
  const d = AGENT_DIR;
  const stop: ControlRequest = { action: "checkpoint-and-stop", reason: "the next attempt starts here" };
  const ticks = Math.ceil(waitMs / 100);
  const script = [
    `cd ${shellQuote(t.home)} || exit 1`,
    `[ -f ${d}/agent.json ] || exit 0`,
    `prev=$(sed -n 's/^ *"attempt": *\\([0-9][0-9]*\\).*/\\1/p' ${d}/agent.json | head -n 1)`,
    `[ -z "$prev" ] || [ "$prev" = ${attempt} ] && exit 0`,
    `pid=$(cat ${d}/agent.pid 2>/dev/null)`,
    `if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then`,
    `  printf '%s' ${shellQuote(JSON.stringify(stop))} > ${d}/control.json.tmp && mv -f ${d}/control.json.tmp ${d}/control.json`,
    `  i=0; while kill -0 "$pid" 2>/dev/null; do i=$((i+1)); [ $i -gt ${ticks} ] && exit ${STILL_STOPPING}; sleep 0.1; done`,
    "fi",
    `mkdir -p ${d}/attempt-$prev`,
    `for f in ${ATTEMPT_FILES.join(" ")}; do [ -e ${d}/$f ] && mv -f ${d}/$f ${d}/attempt-$prev/; done`,
    `echo "$prev"`,
  ].join("\n");
  const r = await t.exec(script, { timeoutMs: waitMs + 30_000 });
  if (r.exitCode === STILL_STOPPING)
    throw new BootstrapError(
      instanceId,
      "start",
      `the last attempt's agent is still stopping after ${Math.round(waitMs / 1000)}s`,
      `look at ~/${d}/run.log on the instance`,
      true,
    );
  if (r.exitCode !== 0)
    throw new BootstrapError(
      instanceId,
      "start",
      `moving the last attempt's agent files aside failed: ${r.stderr.trim().split("\n").pop() || `exit ${r.exitCode}`}`,
      `look at ~/${d} on the instance`,
      true,
    );
  const prev = Number.parseInt(r.stdout.trim(), 10);
  return Number.isFinite(prev) ? prev : undefined;
}
