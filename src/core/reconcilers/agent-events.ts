import type { AgentEvent } from "../../agent/protocol.js";
import type { JobId } from "../../base/ids.js";
import { attemptLogKey } from "../../checkpoints/attempt-logs.js";
import { openCheckpointStore } from "../../checkpoints/open-store.js";
import type { InstanceInfo } from "../../providers/provider.js";
import type { AttemptRow } from "../../state/state-store.js";
import { endKindOf } from "../decide.js";
import { ackRunLog, appendRunLog, repairRunLog, unackedRunLog } from "../job-log.js";
import { AgentFeeds, type FeedItem } from "./agent-feed.js";
import type { JobContext, ReconcilerDeps } from "./deps.js";
import { mapAgentEvent } from "./map-agent-event.js";
import { replacementOnNotice } from "./replace-decisions.js";
import type { Teardown } from "./teardown.js";

type AgentExit = Extract<AgentEvent, { kind: "agent_exit" }>;

/**
 * The agent's word on the job: its events (setup done, running, notice, checkpoints, exit) and
 * log bytes, applied to the store in order, from the offsets the store has acknowledged.
 */
/** No channel up for this long is a reason to look at the instance closely. */
const LOST_MS = 30_000;

export class AgentEventsReconciler {
  private readonly feeds: AgentFeeds;
  /** Jobs whose agent did not answer the last read: their instance is worth a closer look. */
  private readonly unanswered = new Set<string>();

  constructor(
    private readonly d: ReconcilerDeps,
    private readonly teardown: Teardown,
    private readonly onRebalance: (ctx: JobContext, attempt: AttemptRow) => void,
    /** An interruption notice was applied (recovery.replace_on_notice readies the replacement). */
    private readonly onNotice: (ctx: JobContext, attempt: AttemptRow) => void = () => {},
  ) {
    this.feeds = new AgentFeeds({ clock: d.clock, logger: d.logger, wake: d.wake });
  }

  closeAll(): Promise<void> {
    return this.feeds.closeAll();
  }

  silent(jobId: JobId): boolean {
    return this.unanswered.has(jobId);
  }

  forgetJob(jobId: JobId): void {
    this.unanswered.delete(jobId);
  }

  /** Stop following an attempt's agents. */
  forgetAttempt(jobId: JobId, idx: number): void {
    void this.feeds.closeAttempt(jobId, idx);
  }

  forgetInstance(instanceId: string): void {
    void this.feeds.close(instanceId);
  }

  /** Whether a channel to the attempt's agent is up (its news wakes the job; see AgentFeeds.upFor). */
  channelUp(jobId: JobId, attempt: number): boolean {
    return this.feeds.upFor(jobId, attempt);
  }

  /** The agent's own heartbeat as its channel last carried it (undefined: no channel, or none yet). */
  agentBeat(instanceId: string): number | undefined {
    return this.feeds.agentBeat(instanceId);
  }

  /**
   * Apply what the agent's channel brought since the last visit (opening the channel first if
   * need be), in order, each item acknowledged once it is in the store. Returns true if the
   * attempt ended.
   */
  async ingest(ctx: JobContext, attempt: AttemptRow, info: InstanceInfo): Promise<boolean> {
    const { job } = ctx;
    if (!this.feeds.has(info.id)) {
      const t = await this.d.transports.get(ctx.provider, info).catch(() => undefined);
      if (!t) {
        // Not reachable now (reclaimed, rebooting): the observer is asked to look closely.
        this.unanswered.add(job.id);
        return false;
      }
      this.repairLog(job.id, attempt);
      this.feeds.open(job.id, attempt.idx, info.id, t, attempt.events_offset, attempt.log_offset);
    }
    const now = this.d.clock.now();
    if (this.feeds.lost(info.id, now, LOST_MS)) this.unanswered.add(job.id);
    else this.unanswered.delete(job.id);
    const items = this.feeds.take(info.id);
    for (const [i, item] of items.entries()) {
      let exit: AgentExit | undefined;
      try {
        exit = await this.apply(ctx, attempt, item);
      } catch (e) {
        this.feeds.restore(info.id, items.slice(i));
        throw e;
      }
      this.feeds.applied(info.id, [item], attempt.events_offset, attempt.log_offset);
      if (exit) {
        // What is left was sent after the exit (nothing, or the tail of a log already read).
        this.feeds.applied(info.id, items.slice(i + 1), attempt.events_offset, attempt.log_offset);
        await this.ended(ctx, attempt, exit, info);
        return true;
      }
    }
    return false;
  }

  /** One delivery into the store; an item the store already holds (a channel re-opened behind it) is skipped. */
  private async apply(ctx: JobContext, attempt: AttemptRow, item: FeedItem): Promise<AgentExit | undefined> {
    const { job, task } = ctx;
    if (item.kind === "log") {
      const start = item.offset - item.bytes.length;
      const skip = Math.max(0, attempt.log_offset - start);
      if (skip >= item.bytes.length) return undefined;
      appendRunLog(this.d.home, job.id, item.bytes.subarray(skip));
      await this.d.store.updateAttempt(job.id, attempt.idx, { log_offset: item.offset });
      attempt.log_offset = item.offset;
      ackRunLog(this.d.home, job.id, attempt.idx, item.offset);
      return undefined;
    }
    if (item.offset <= attempt.events_offset) return undefined;
    let exit: AgentExit | undefined;
    let rebalanced = false;
    let noticed = false;
    const now = this.d.clock.now();
    await this.d.store.transaction(async (tx) => {
      for (const e of item.events) {
        const mapped = mapAgentEvent(attempt.idx, e);
        if (mapped) await tx.appendEvent(job.id, e.at, mapped);
        if (e.kind === "run_started" && job.state === "SETTING_UP")
          await this.d.recorder.setState(
            tx,
            job,
            "RUNNING",
            `attempt ${attempt.idx + 1}: running${e.restart ? " (restart)" : ""}`,
          );
        if (e.kind === "notice") {
          const first = attempt.notice_at === null;
          await tx.updateAttempt(job.id, attempt.idx, { notice_at: e.seen_at });
          attempt.notice_at = e.seen_at;
          noticed = true;
          // The warm replacement's spot request, counted with the notice that asks for it.
          if (first && replacementOnNotice(task, attempt)) {
            await tx.updateJob(job.id, { spot_requests: job.spot_requests + 1 });
            job.spot_requests += 1;
          }
        }
        if (e.kind === "rebalance" && task.recovery.prelaunch_on_rebalance) rebalanced = true;
        if (e.kind === "agent_exit") exit = e;
      }
      await tx.updateAttempt(job.id, attempt.idx, { events_offset: item.offset, last_heartbeat: now });
    });
    attempt.events_offset = item.offset;
    attempt.last_heartbeat = now;
    if (rebalanced) this.onRebalance(ctx, attempt);
    if (noticed) this.onNotice(ctx, attempt);
    return exit;
  }

  private async ended(ctx: JobContext, attempt: AttemptRow, exit: AgentExit, info: InstanceInfo): Promise<void> {
    const stopReason =
      exit.outcome === "stopped" ? (attempt.stop_reason ?? (ctx.job.budget_warned >= 2 ? "budget" : "cancel")) : undefined;
    const kind = endKindOf(exit.outcome, stopReason);
    const detail = exit.exit_code !== undefined && exit.exit_code !== null ? `exit code ${exit.exit_code}` : (exit.message ?? "");
    // Node 0's agent speaks for the job: a preemption it reports is its own node's (recovery.partial).
    await this.teardown.endAttempt(ctx, attempt, kind, detail, { loss: { lost: [info.id], seen: [info] } });
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
    // What the channel brought and the store did not record yet is in the job's log already, and
    // the copy may end before it: keep it, and take from the copy only what comes after.
    const from = attempt.log_offset + unackedRunLog(this.d.home, job.id, attempt.idx, attempt.log_offset);
    if (!bytes || bytes.length <= from) {
      if (from > attempt.log_offset) {
        await this.d.store.updateAttempt(job.id, attempt.idx, { log_offset: from });
        attempt.log_offset = from;
        ackRunLog(this.d.home, job.id, attempt.idx, from);
      }
      return;
    }
    appendRunLog(this.d.home, job.id, bytes.subarray(from));
    await this.d.store.updateAttempt(job.id, attempt.idx, { log_offset: bytes.length });
    attempt.log_offset = bytes.length;
    ackRunLog(this.d.home, job.id, attempt.idx, bytes.length);
  }

  /** A controller killed between a chunk's append and its record left it in the job's log: cut it, it comes again. */
  private repairLog(jobId: string, attempt: AttemptRow): void {
    const cut = repairRunLog(this.d.home, jobId, attempt.idx, attempt.log_offset);
    if (cut > 0)
      this.d.logger.info({ job: jobId }, `cut ${cut} bytes of attempt ${attempt.idx + 1}'s log written but never recorded`);
  }
}
