import type { AgentEvent } from "../../agent/protocol.js";
import type { JobEvent } from "../../state/job-event.js";

/** What the job's record says of an agent's event; undefined for the ones it keeps to itself (heartbeats, exits). Pure. */
export function mapAgentEvent(attempt: number, e: AgentEvent): JobEvent | undefined {
  switch (e.kind) {
    case "restored":
      return { kind: "restored", attempt, generation: e.generation, ms: e.ms };
    case "setup_done":
      return { kind: "setup_done", attempt, ms: e.ms, exit_code: e.exit_code };
    case "run_started":
      return { kind: "run_started", attempt, restart: e.restart };
    case "notice":
      return {
        kind: "notice",
        attempt,
        action: e.action,
        time: new Date(e.time).toISOString(),
        source: e.source,
        seen_at: new Date(e.seen_at).toISOString(),
      };
    case "hook_ran":
      return { kind: "hook_ran", attempt, ms: e.ms, outcome: e.outcome, exit_code: e.exit_code };
    case "checkpoint_uploaded":
      return {
        kind: "checkpoint_uploaded",
        attempt,
        generation: e.generation,
        bytes: e.bytes,
        files: e.files,
        ms: e.ms,
        reason: e.reason,
        ...(e.progress !== undefined ? { progress: e.progress } : {}),
      };
    case "checkpoint_stalled":
      return { kind: "checkpoint_stalled", attempt, since_ms: e.since_ms };
    case "run_exited":
      return { kind: "run_exited", attempt, exit_code: e.exit_code, signal: e.signal };
    case "checkpoint_failed":
      // Its own kind, so `status` shows a failed upload and its cause until one succeeds (issue 17 item 10).
      return { kind: "checkpoint_failed", attempt, cause: e.message };
    case "warning":
      return { kind: "warning", message: e.message };
    case "rebalance":
      return { kind: "rebalance", attempt, source: e.source };
    case "session_step":
      return { kind: "session_step", attempt, step: e.step, ms: e.ms, ...(e.detail ? { detail: e.detail } : {}) };
    default:
      return undefined;
  }
}
