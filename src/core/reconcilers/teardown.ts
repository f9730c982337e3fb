import { agentPaths, type ControlRequest } from "../../agent/protocol.js";
import { InstanceId, type JobId } from "../../base/ids.js";
import { type InstanceInfo, type Provider, TAG } from "../../providers/provider.js";
import type { AttemptRow, JobRow } from "../../state/state-store.js";
import { type AttemptEndKind, afterAttempt, launchBackoffMs } from "../decide.js";
import { recordFailover } from "../failover-plan.js";
import { failoverPolicyJson, failoverStateOf } from "../stored-policy.js";
import type { JobContext, ReconcilerDeps } from "./deps.js";
import { survivorsToKeep } from "./partial-decisions.js";
import { asNode } from "./partial-recovery.js";
import { recordSpareEnded } from "./spare-rows.js";

/** Per-job state other reconcilers keep, cleared when an attempt or a job ends. */
export interface AttemptScoped {
  forgetAttempt?(jobId: string, idx: number): void;
  forgetInstance?(instanceId: string): void;
}

/** What ended a multi-node attempt, for a partial recovery: the nodes lost, and what is known of all of them. */
export interface NodeLoss {
  lost: readonly string[];
  seen: readonly (InstanceInfo | undefined)[];
}

/**
 * Ending attempts and their instances. The attempt's end is recorded first, in one transaction
 * with the job's move (the intent); the instances are ended afterwards, and a controller killed in
 * between leaves rows the reaper settles against the provider.
 */
export class Teardown {
  private readonly scoped: AttemptScoped[] = [];
  constructor(private readonly d: ReconcilerDeps) {}

  /** Reconcilers with per-attempt state register here to be told when it can go. */
  register(s: AttemptScoped): void {
    this.scoped.push(s);
  }

  async endAttempt(
    ctx: JobContext,
    attempt: AttemptRow,
    kind: AttemptEndKind,
    detail: string,
    opts: { fatal?: boolean; immediate?: boolean; loss?: NodeLoss } = {},
  ): Promise<void> {
    const { job, task } = ctx;
    const now = this.d.clock.now();
    let next = afterAttempt(kind, { preemptions: job.preemptions, error_restarts: job.error_restarts }, task, detail);
    const patch: Partial<JobRow> = { preemptions: next.counters.preemptions, error_restarts: next.counters.error_restarts };
    if (task.recovery.strategy === "failover" && (kind === "preempted" || kind === "lost")) {
      // The pool that just preempted us is blocked for block_zone_for; the walk moves on.
      const st = failoverStateOf((await this.d.store.job(job.id))?.policy_json ?? null, job.id);
      if (st.pending)
        patch.policy_json = failoverPolicyJson(recordFailover(st, { kind: "preempted", offer: st.pending, atMs: now }));
    }
    if (kind === "launch_failed") {
      patch.launch_failures = job.launch_failures + 1;
      patch.not_before = opts.immediate ? now : now + launchBackoffMs(job.launch_failures + 1);
      if (opts.fatal) next = { ...next, state: "FAILED", message: detail };
    }
    // recovery.partial: the surviving nodes pass to the next attempt, in the same transaction as the
    // end, so neither the reaper nor the terminate below takes them for leftovers.
    const kept = opts.loss
      ? survivorsToKeep({
          partial: task.recovery.partial,
          numNodes: task.num_nodes,
          kind,
          next: next.state,
          lost: opts.loss.lost,
          live: (await this.d.store.instances({ jobId: job.id, attempt: attempt.idx, live: true })).map(asNode),
        })
      : [];
    await this.d.store.transaction(async (tx) => {
      await tx.updateAttempt(job.id, attempt.idx, { state: "ENDED", ended_at: now, end_kind: kind, end_detail: detail });
      await tx.carryInstances(
        kept.map((k) => k.id),
        attempt.idx + 1,
      );
      await this.d.recorder.event(
        job.id,
        { kind: "attempt_ended", attempt: attempt.idx, end: kind, ...(detail ? { detail } : {}) },
        tx,
      );
      await this.d.recorder.setState(tx, job, next.state, next.message, patch);
    });
    attempt.state = "ENDED";
    for (const s of this.scoped) s.forgetAttempt?.(job.id, attempt.idx);
    if (kept.length > 0) {
      // What was read of a kept node's agent belongs to the attempt that ended; its next agent starts afresh.
      for (const k of kept) for (const s of this.scoped) s.forgetInstance?.(k.id);
      const infos = (opts.loss?.seen ?? []).filter((i): i is InstanceInfo => kept.some((k) => k.id === i?.id));
      this.d.background(this.stopKept(ctx, infos));
    }
    // Ending the old instances does not hold up the next attempt; the reaper covers a failure here.
    this.d.background(this.terminateAttempt(job.id, attempt.idx, ctx.provider, kind));
  }

  /**
   * Ask the kept nodes' agents to stop their part of the run now (node 0 uploads its checkpoint),
   * so they are ready when the replacements are; the next bootstrap also asks, and waits for it.
   */
  private async stopKept(ctx: JobContext, infos: readonly InstanceInfo[]): Promise<void> {
    const stop: ControlRequest = { action: "checkpoint-and-stop", reason: "a node was lost" };
    await Promise.all(
      infos.map(async (info) => {
        try {
          await (await this.d.transports.get(ctx.provider, info)).writeFile(agentPaths().control, JSON.stringify(stop));
        } catch (e) {
          this.d.logger.warn({ job: ctx.job.id, instance: info.id }, `could not ask the kept node to stop: ${String(e)}`);
        }
      }),
    );
  }

  async terminateAttempt(jobId: JobId, idx: number, provider: Provider, reason: string): Promise<void> {
    const live = await this.d.store.instances({ jobId, attempt: idx, live: true });
    if (live.length === 0) return;
    await provider.terminate(live.map((r) => InstanceId(r.id)));
    this.d.observer.ended(
      provider,
      live.map((r) => r.id),
    );
    for (const r of live) await this.recordEnded(jobId, idx, r.id, reason);
  }

  /** The store agrees with the provider: the instance has ended. */
  async recordEnded(jobId: JobId, idx: number, instanceId: string, reason: string, at = this.d.clock.now()): Promise<void> {
    await this.d.store.transaction(async (tx) => {
      await tx.endInstance(instanceId, at, reason);
      await this.d.recorder.event(jobId, { kind: "instance_ended", attempt: idx, instance_id: instanceId, reason }, tx);
    });
    await this.d.transports.drop(instanceId);
    this.d.observer.forget(instanceId);
    for (const s of this.scoped) s.forgetInstance?.(instanceId);
  }

  async cancel(ctx: JobContext): Promise<void> {
    const { job } = ctx;
    const attempt = job.attempt >= 0 ? await this.d.store.attempt(job.id, job.attempt) : undefined;
    await this.d.store.transaction(async (tx) => {
      if (attempt && attempt.state !== "ENDED") {
        await tx.updateAttempt(job.id, attempt.idx, {
          state: "ENDED",
          ended_at: this.d.clock.now(),
          end_kind: "cancelled",
          end_detail: "cancelled by the user",
        });
        await this.d.recorder.event(job.id, { kind: "attempt_ended", attempt: attempt.idx, end: "cancelled" }, tx);
      }
      await this.d.recorder.setState(tx, job, "CANCELLED", "cancelled by the user");
    });
    if (attempt) {
      for (const s of this.scoped) s.forgetAttempt?.(job.id, attempt.idx);
      await this.terminateAttempt(job.id, attempt.idx, ctx.provider, "cancelled");
    }
    await this.endLeftovers(ctx);
  }

  /** A cancelled job leaves nothing: every instance the store holds open, then what its tag still lists. */
  private async endLeftovers(ctx: JobContext): Promise<void> {
    const { job, provider } = ctx;
    for (const r of await this.d.store.instances({ jobId: job.id, live: true })) {
      await provider.terminate([InstanceId(r.id)]);
      await this.recordEnded(job.id, r.attempt, r.id, "cancelled");
    }
    await this.endTagged(ctx);
  }

  /**
   * A job that ended (cancelled, done, failed, over budget) leaves nothing, not even a spare
   * readied for its next attempt (a warm replacement, a pre-launch) that the store does not record
   * and this controller may not know of: ask the provider by the job's tag, once, and end what
   * still runs. The controller may leave right after, before any reaper pass. (A replacement whose
   * launch is still in flight ends itself when it returns.)
   */
  async endTagged(ctx: JobContext): Promise<void> {
    const { job, provider } = ctx;
    const tagged = await provider.list({ [TAG.managed]: this.d.storeTag(), [TAG.job]: job.id });
    // What the store records the attempts' teardown ends (and records); this is for the rest.
    const recorded = new Set((await this.d.store.instances({ jobId: job.id })).map((r) => r.id));
    const spares = tagged.filter((i) => i.status !== "terminated" && !recorded.has(i.id));
    const running = spares.map((i) => i.id);
    if (running.length === 0) return;
    await provider.terminate(running);
    this.d.observer.ended(provider, running);
    for (const id of running) await this.d.transports.drop(id);
    // Their time is in the job's cost although no attempt took them.
    await recordSpareEnded(this.d, job.id, spares, `${job.state.toLowerCase()} with its job`);
  }
}
