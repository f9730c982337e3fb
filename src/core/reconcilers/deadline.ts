import { agentPaths } from "../../agent/protocol.js";
import { resolveDeadline } from "../../placement/deadline.js";
import { type Current, type Decision, decide, initialPolicyState, seedFor } from "../../placement/policy.js";
import type { InstanceInfo, TickedMarket } from "../../providers/provider.js";
import type { AttemptRow } from "../../state/state-store.js";
import {
  decidedTickAt,
  decisionPointOf,
  firstTickOf,
  type TickDecision,
  tickObservation,
  tickOf,
  tickStartOf,
  workDoneByTick,
} from "../market-ticks.js";
import { measureProgress, PROGRESS_EVENT_KINDS, progressMarks, restartOverhead } from "../progress.js";
import { deadlinePolicyJson, deadlineStateOf } from "../stored-policy.js";
import type { JobContext, ReconcilerDeps } from "./deps.js";
import type { Teardown } from "./teardown.js";

export type TickOutcome = ({ kind: "decided" } & TickDecision) | { kind: "wait"; untilMs: number; reason: string };

/**
 * The deadline strategy: which market (spot, on-demand, none) keeps the job on time, decided on
 * measured progress every decision interval, or once per tick on a market that moves in ticks.
 */
export class DeadlineReconciler {
  private readonly lastReview = new Map<string, number>();
  private readonly lastDecision = new Map<string, string>();

  constructor(
    private readonly d: ReconcilerDeps,
    private readonly teardown: Teardown,
  ) {}

  forgetJob(jobId: string): void {
    this.lastReview.delete(jobId);
    this.lastDecision.delete(jobId);
  }

  /** One decision of the deadline policy on the job's measured progress; the state is kept only when acted on. */
  async decision(ctx: JobContext, current: Current, spotAvailable: boolean): Promise<Decision> {
    const { job, task } = ctx;
    const r = task.recovery;
    const now = this.d.clock.now();
    const [attempts, events] = await Promise.all([
      this.d.store.attempts(job.id),
      this.d.store.eventsOfKind(job.id, PROGRESS_EVENT_KINDS),
    ]);
    const m = measureProgress(attempts, events, now, r.restart_overhead, r.work as number);
    const state =
      deadlineStateOf(job.policy_json, job.id)?.state ?? initialPolicyState(r.deadline_policy, { seed: seedFor(job.id) });
    const deadlineMs = resolveDeadline(r.deadline as string, job.created_at);
    const since = attempts.at(-1)?.started_at;
    const d = decide(
      {
        nowMs: now,
        startMs: job.created_at,
        deadlineMs,
        workTotalMs: r.work as number,
        // Measured progress is an estimate; until the run itself exits 0 the job is not done, so the
        // policy is never told it is (it would idle a job that still has steps to go).
        workDoneMs: Math.min(m.workDoneMs, (r.work as number) - r.decision_interval),
        restartOverheadMs: m.restartOverheadMs,
        spotAvailable,
        current,
        ...(current !== "none" && since !== undefined ? { currentSinceMs: since } : {}),
        stepMs: r.decision_interval,
      },
      state,
    );
    const key = `${current}>${d.choice}:${d.rule}`;
    if (this.lastDecision.get(job.id) !== key) {
      this.lastDecision.set(job.id, key);
      await this.d.recorder.event(job.id, {
        kind: "placement_decision",
        choice: d.choice,
        rule: d.rule,
        current,
        work_done_ms: Math.round(m.workDoneMs),
        deadline: new Date(deadlineMs).toISOString(),
        restart_overhead_ms: Math.round(m.restartOverheadMs),
      });
    }
    return d;
  }

  /**
   * The deadline policy on a ticked market: one decision per tick, taken at the tick's decision
   * point and kept in the job's row, so a recovery later in the same tick acts on it rather than
   * deciding again. The policy's state moves on with each decision (the market's availability is
   * known, so there is nothing to learn by trying).
   */
  async tickDecision(ctx: JobContext, m: TickedMarket, opts: { toLaunch?: boolean } = {}): Promise<TickOutcome> {
    const { job, task } = ctx;
    const r = task.recovery;
    const now = this.d.clock.now();
    const firstTick = firstTickOf(m, job.created_at);
    const tick = decidedTickAt(m, now);
    if (tick < firstTick)
      return { kind: "wait", untilMs: decisionPointOf(m, firstTick), reason: "waiting for the market's next tick" };
    // A launch between a tick's start and its decision point (after a reclaim at that start) waits
    // for that tick's decision: the last one was taken on a market that has since moved.
    if (opts.toLaunch && tick < tickOf(m, now))
      return { kind: "wait", untilMs: decisionPointOf(m, tickOf(m, now)), reason: "waiting for this tick's decision" };
    const stored = deadlineStateOf(job.policy_json, job.id);
    const kept = stored?.decided;
    if (kept?.tick === tick) return { kind: "decided", ...kept };

    const [attempts, events] = await Promise.all([
      this.d.store.attempts(job.id),
      this.d.store.eventsOfKind(job.id, PROGRESS_EVENT_KINDS),
    ]);
    const marks = progressMarks(events);
    const last = attempts.at(-1);
    const live = last && last.state !== "ENDED" ? { spot: last.spot, startedAt: last.started_at } : undefined;
    const ended = last?.state === "ENDED" ? last : undefined;
    const start = tickStartOf(m, firstTick);
    const deadline = resolveDeadline(r.deadline as string, start);
    const obs = tickObservation(m, {
      tick,
      firstTick,
      deadlineAfterMs: deadline - start,
      workMs: r.work as number,
      workDoneMs: workDoneByTick(m, attempts, marks, tick),
      restartOverheadMs: restartOverhead(attempts, marks, r.restart_overhead).ms,
      ...(live ? { live } : {}),
    });
    const state = stored?.state ?? initialPolicyState(r.deadline_policy, { seed: seedFor(job.id) });
    const d = decide(obs, state);
    const decided: TickDecision = { tick, choice: d.choice, rule: d.rule };
    const policyJson = deadlinePolicyJson(d.state, decided);
    await this.d.store.transaction(async (tx) => {
      await tx.updateJob(job.id, { policy_json: policyJson });
      await this.d.recorder.event(
        job.id,
        {
          kind: "placement_decision",
          choice: d.choice,
          rule: d.rule,
          current: obs.current,
          work_done_ms: obs.workDoneMs,
          deadline: new Date(deadline).toISOString(),
          restart_overhead_ms: obs.restartOverheadMs,
          tick: m.firstTraceTick + tick,
          job_tick: tick - firstTick,
          ...(obs.reclaimed || (ended?.end_kind === "preempted" && tickOf(m, ended.ended_at ?? 0) === tick)
            ? { reclaimed: true }
            : {}),
        },
        tx,
      );
    });
    job.policy_json = policyJson;
    return { kind: "decided", ...decided };
  }

  /**
   * Each tick, while an attempt is live: take the tick's decision and, when it wants another market
   * (or none), stop the attempt with a checkpoint. Returns true when the attempt ended here.
   */
  async reviewTick(ctx: JobContext, attempt: AttemptRow, primary: InstanceInfo | undefined, m: TickedMarket): Promise<boolean> {
    const t = await this.tickDecision(ctx, m);
    if (t.kind === "wait" || attempt.stop_reason || attempt.notice_at !== null) return false;
    const current = attempt.spot ? "spot" : "on_demand";
    // A reclaimed spot ends by itself; the recovery then acts on this tick's decision.
    if (t.choice === current || (current === "spot" && !m.spotAvailableAt(t.tick))) return false;
    const reason = `deadline: ${t.rule} (tick ${t.tick})`;
    if (!attempt.agent_started || !primary) {
      // Nothing has run on it yet: there is nothing to save.
      await this.teardown.endAttempt(ctx, attempt, "changeover", reason);
      return true;
    }
    await this.stopForChangeover(ctx, attempt, primary);
    return false;
  }

  /** Every decision interval: does the running attempt's market still keep the job on schedule? */
  async reviewMarket(ctx: JobContext, attempt: AttemptRow, info: InstanceInfo): Promise<void> {
    const { job, task } = ctx;
    const now = this.d.clock.now();
    if (now - (this.lastReview.get(job.id) ?? attempt.started_at) < task.recovery.decision_interval) return;
    this.lastReview.set(job.id, now);
    const current: Current = attempt.spot ? "spot" : "on_demand";
    const d = await this.decision(ctx, current, current === "spot" || task.resources.spot);
    await this.d.store.updateJob(job.id, { policy_json: deadlinePolicyJson(d.state) });
    // A changeover: checkpoint and stop this attempt; the next one launches on the market chosen.
    if (d.choice !== current && d.choice !== "idle") await this.stopForChangeover(ctx, attempt, info);
  }

  private async stopForChangeover(ctx: JobContext, attempt: AttemptRow, info: InstanceInfo): Promise<void> {
    await this.d.store.updateAttempt(ctx.job.id, attempt.idx, { stop_reason: "changeover" });
    attempt.stop_reason = "changeover";
    const t = await this.d.transports.get(ctx.provider, info);
    await t.writeFile(agentPaths().control, JSON.stringify({ action: "checkpoint-and-stop", reason: "changeover" }));
  }
}

/** When a ticked market's decision lets a launch go ahead, and when it says to wait. Pure. */
export function tickLaunchWait(m: TickedMarket, t: TickOutcome): { untilMs: number; message: string } | undefined {
  if (t.kind === "wait") return { untilMs: t.untilMs, message: t.reason };
  if (t.choice === "idle") return { untilMs: decisionPointOf(m, t.tick + 1), message: `deadline: ${t.rule}` };
  return undefined;
}
