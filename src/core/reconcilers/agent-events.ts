import { appendFileSync } from "node:fs";
import { type AgentEvent, agentPaths, parseEventLines } from "../../agent/protocol.js";
import { attemptLogKey } from "../../checkpoints/attempt-logs.js";
import { openCheckpointStore } from "../../checkpoints/open-store.js";
import type { InstanceInfo } from "../../providers/provider.js";
import type { AttemptRow } from "../../state/state-store.js";
import { endKindOf } from "../decide.js";
import { jobLogPath } from "../paths.js";
import type { JobContext, ReconcilerDeps } from "./deps.js";
import { mapAgentEvent } from "./map-agent-event.js";
import type { Teardown } from "./teardown.js";

type AgentExit = Extract<AgentEvent, { kind: "agent_exit" }>;

/**
 * The agent's word on the job: its events (setup done, running, notice, checkpoints, exit) and
 * log bytes, applied to the store in order, from the offsets the store has acknowledged.
 */
export class AgentEventsReconciler {
  /** Jobs whose agent did not answer the last read: their instance is worth a closer look. */
  private readonly unanswered = new Set<string>();

  constructor(
    private readonly d: ReconcilerDeps,
    private readonly teardown: Teardown,
    private readonly onRebalance: (ctx: JobContext, attempt: AttemptRow) => void,
  ) {}

  silent(jobId: string): boolean {
    return this.unanswered.has(jobId);
  }

  forgetJob(jobId: string): void {
    this.unanswered.delete(jobId);
  }

  /** Pull new agent events and log bytes; apply them. Returns true if the attempt ended. */
  async ingest(ctx: JobContext, attempt: AttemptRow, info: InstanceInfo): Promise<boolean> {
    const { job, task } = ctx;
    const t = await this.d.transports.get(ctx.provider, info).catch(() => undefined);
    if (!t) {
      // Not reachable now (reclaimed, rebooting): the observer is asked to look closely.
      this.unanswered.add(job.id);
      return false;
    }
    const paths = agentPaths();
    let answered = true;
    const unanswered = () => {
      answered = false;
      return undefined;
    };
    const [evBytes, logBytes] = await Promise.all([
      t.readFile(paths.events, attempt.events_offset).catch(unanswered),
      t.readFile(paths.log, attempt.log_offset).catch(unanswered),
    ]);
    if (answered) this.unanswered.delete(job.id);
    else this.unanswered.add(job.id);
    if (logBytes && logBytes.length > 0) {
      appendFileSync(jobLogPath(this.d.home, job.id), logBytes);
      await this.d.store.updateAttempt(job.id, attempt.idx, { log_offset: attempt.log_offset + logBytes.length });
      attempt.log_offset += logBytes.length;
    }
    if (!evBytes || evBytes.length === 0) return false;
    const { events, consumed } = parseEventLines(evBytes.toString("utf8"));
    if (events.length === 0) return false;
    let exit: AgentExit | undefined;
    let rebalanced = false;
    await this.d.store.transaction(async (tx) => {
      for (const e of events) {
        const mapped = mapAgentEvent(attempt.idx, e);
        if (mapped) await tx.appendEvent(job.id, e.at, mapped);
        if (e.kind === "run_started" && job.state === "SETTING_UP")
          await this.d.recorder.setState(tx, job, "RUNNING", `attempt ${attempt.idx}: running${e.restart ? " (restart)" : ""}`);
        if (e.kind === "notice") {
          await tx.updateAttempt(job.id, attempt.idx, { notice_at: e.seen_at });
          attempt.notice_at = e.seen_at;
        }
        if (e.kind === "rebalance" && task.recovery.prelaunch_on_rebalance) rebalanced = true;
        if (e.kind === "agent_exit") exit = e;
      }
      await tx.updateAttempt(job.id, attempt.idx, {
        events_offset: attempt.events_offset + consumed,
        last_heartbeat: this.d.clock.now(),
      });
    });
    attempt.events_offset += consumed;
    attempt.last_heartbeat = this.d.clock.now();
    if (rebalanced) this.onRebalance(ctx, attempt);
    if (!exit) return false;
    const ended: AgentExit = exit;
    const stopReason =
      ended.outcome === "stopped" ? (attempt.stop_reason ?? (job.budget_warned >= 2 ? "budget" : "cancel")) : undefined;
    const kind = endKindOf(ended.outcome, stopReason);
    const detail =
      ended.exit_code !== undefined && ended.exit_code !== null ? `exit code ${ended.exit_code}` : (ended.message ?? "");
    // Pull the last log bytes before the instance goes.
    const tail = await t.readFile(paths.log, attempt.log_offset).catch(() => undefined);
    if (tail && tail.length > 0) appendFileSync(jobLogPath(this.d.home, job.id), tail);
    await this.teardown.endAttempt(ctx, attempt, kind, detail);
    return true;
  }

  /**
   * The lines an instance printed after we last read it, from the copy its agent kept with the
   * checkpoints before it went (no controller may have been reading when it was reclaimed).
   */
  async recoverLog(ctx: JobContext, attempt: AttemptRow): Promise<void> {
    const { job } = ctx;
    let timer: NodeJS.Timeout | undefined;
    const bytes = await Promise.race([
      openCheckpointStore(job.store_url)
        .then((s) => s.blobs.getBytes(attemptLogKey(attempt.idx)))
        .catch(() => undefined),
      new Promise<undefined>((r) => {
        timer = setTimeout(() => r(undefined), 5000);
        timer.unref();
      }),
    ]).finally(() => clearTimeout(timer));
    if (!bytes || bytes.length <= attempt.log_offset) return;
    appendFileSync(jobLogPath(this.d.home, job.id), bytes.subarray(attempt.log_offset));
    await this.d.store.updateAttempt(job.id, attempt.idx, { log_offset: bytes.length });
    attempt.log_offset = bytes.length;
  }
}
