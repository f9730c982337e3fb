import { errorMessage, SpotrunError } from "../../base/errors.js";
import type { JobId } from "../../base/ids.js";
import { type InstanceInfo, type LaunchResult, type Offer, ProviderError } from "../../providers/provider.js";
import type { AttemptRow } from "../../state/state-store.js";
import { ControllerBug } from "../controller-errors.js";
import { launchBackoffMs, planLaunch } from "../decide.js";
import { type FailoverState, planFailover } from "../failover-plan.js";
import type { InterruptionHistory } from "../interruption-history.js";
import { deadlinePolicyJson, failoverPolicyJson, failoverStateOf } from "../stored-policy.js";
import type { DeadlineReconciler } from "./deadline.js";
import { tickLaunchWait } from "./deadline.js";
import type { JobContext, ReconcilerDeps } from "./deps.js";
import { hourlyBudgetRefuses, overHourlyBudget } from "./launch-decisions.js";
import { recordLaunched } from "./launch-record.js";
import { handleRefusal } from "./launch-refusal.js";
import { launchRequest } from "./launch-request.js";
import type { NodeRow } from "./partial-decisions.js";
import { keptForPlan, keptNodes } from "./partial-recovery.js";
import type { Teardown } from "./teardown.js";

/** What LaunchReconciler asks of the warm replacements (ReplaceReconciler). */
export interface WarmSpares {
  market(jobId: string, idx: number): { spot: boolean } | undefined;
  /** The replacement's instances for attempt `idx`, "launching" while its launch is in flight, undefined if none. */
  instances(jobId: string, idx: number): InstanceInfo[] | "launching" | undefined;
}

/**
 * Starting attempts and renting their instances: which market and types (plan, failover walk,
 * deadline policy), the launch with its idempotency key, refusals and fallbacks, and the record of
 * what was rented.
 */
export class LaunchReconciler {
  private readonly prelaunched = new Set<string>();

  constructor(
    private readonly d: ReconcilerDeps,
    private readonly teardown: Teardown,
    private readonly deadline: DeadlineReconciler,
    private readonly history: InterruptionHistory,
    private readonly jobCost: (jobId: JobId) => Promise<number>,
    /** A warm replacement launched on a notice for attempt `idx` (recovery.replace_on_notice): its market and instances. */
    private readonly warm: WarmSpares = { market: () => undefined, instances: () => undefined },
  ) {}

  /** Whether the rebalance pre-launch already launched attempt `idx` (a replacement then adopts it by the same key). */
  prelaunchedFor(jobId: string, idx: number): boolean {
    return this.prelaunched.has(`${jobId}:${idx}`);
  }

  forgetJob(jobId: string): void {
    for (const k of this.prelaunched) if (k.startsWith(`${jobId}:`)) this.prelaunched.delete(k);
  }

  private storeTag(): string {
    const tag = this.d.storeTag();
    if (!tag) throw new ControllerBug("a launch before the controller acquired its lease");
    return tag;
  }

  /** The job stops before its next attempt: the nodes kept for it (recovery.partial) end too. */
  private endKept(ctx: JobContext, reason: string): Promise<void> {
    return this.teardown.terminateAttempt(ctx.job.id, ctx.job.attempt + 1, ctx.provider, reason);
  }

  /** PENDING or RECOVERING: decide the next attempt's market and start it. */
  async startAttempt(ctx: JobContext): Promise<void> {
    const { job, task, provider } = ctx;
    const now = this.d.clock.now();
    if (now < job.not_before) return;
    if (task.budget.max_cost !== undefined && (await this.jobCost(job.id)) >= task.budget.max_cost) {
      await this.d.store.transaction((tx) =>
        this.d.recorder.setState(tx, job, "OVER_BUDGET", `budget of $${task.budget.max_cost} spent`),
      );
      await this.endKept(ctx, "over budget");
      return;
    }
    const past = (await this.d.store.attempts(job.id)).map((a) => ({
      spot: a.spot,
      endKind: a.end_kind,
      endedAt: a.ended_at,
    }));
    let plan = planLaunch(task, past, now);
    let failover: FailoverState | undefined;
    if (task.recovery.strategy === "failover") {
      failover = failoverStateOf(job.policy_json, job.id);
      const next = await planFailover(provider, task, failover, now, (offers) => this.history.forOffers(offers));
      if (next.kind === "wait") {
        const fatal = next.untilMs === undefined;
        await this.d.store.transaction(async (tx) => {
          await this.d.recorder.event(job.id, { kind: "warning", message: next.reason }, tx);
          if (fatal) await this.d.recorder.setState(tx, job, "FAILED", next.reason);
          else await tx.updateJob(job.id, { not_before: next.untilMs as number, message: next.reason });
        });
        return;
      }
      plan = { spot: next.offer.spot, instanceTypes: [next.offer.instanceType], reason: next.reason };
      failover = { ...failover, pending: next.offer };
    }
    let policyJson: string | undefined;
    const ticked = task.recovery.strategy === "deadline" ? provider.tickedMarket?.(task.resources) : undefined;
    if (ticked) {
      const t = await this.deadline.tickDecision(ctx, ticked, { toLaunch: true });
      const wait = tickLaunchWait(ticked, t);
      if (wait || t.kind !== "decided") {
        // Before the job's first tick, or idle for this one: nothing runs until the next decision.
        if (wait) await this.d.store.updateJob(job.id, { not_before: wait.untilMs, message: wait.message });
        return;
      }
      plan = { ...plan, spot: t.choice === "spot", reason: `deadline: ${t.rule} (tick ${t.tick})` };
    } else if (task.recovery.strategy === "deadline") {
      const d = await this.deadline.decision(ctx, "none", task.resources.spot);
      if (d.choice === "idle") {
        // Ahead of the line with no spot to be had: wait, paying nothing, and look again next interval.
        await this.d.store.updateJob(job.id, {
          policy_json: deadlinePolicyJson(d.state),
          not_before: now + task.recovery.decision_interval,
        });
        return;
      }
      plan = { ...plan, spot: d.choice === "spot", reason: `deadline: ${d.rule}` };
      policyJson = deadlinePolicyJson(d.state);
    }
    if (plan.spot && this.warm.market(job.id, job.attempt + 1)?.spot === false) {
      // Spot was refused for the replacement a moment ago and the task fell back: adopt that one.
      plan = { ...plan, spot: false, reason: "the warm replacement (on-demand: spot was refused)" };
    }
    if (task.budget.max_hourly !== undefined) {
      // One offers call per attempt, not per visit: the budget is checked before anything is rented.
      const offers = await provider.offers(task.resources, { quick: true }).catch(() => []);
      const refused = hourlyBudgetRefuses(task, offers, plan.spot, plan.instanceTypes);
      if (refused) {
        await this.d.store.transaction((tx) => this.d.recorder.setState(tx, job, "OVER_BUDGET", refused));
        await this.endKept(ctx, "over budget");
        return;
      }
    }
    const idx = job.attempt + 1;
    const kept = await keptForPlan(this.d.store, this.teardown, ctx, idx, plan);
    const what = kept.length > 0 ? `${task.num_nodes - kept.length} of ${task.num_nodes} nodes, ` : "";
    await this.d.store.transaction(async (tx) => {
      await tx.insertAttempt({
        job_id: job.id,
        idx,
        state: "LAUNCHING",
        spot: plan.spot,
        instance_type: plan.instanceTypes[0] ?? "",
        started_at: now,
        ended_at: null,
        end_kind: null,
        end_detail: null,
        events_offset: 0,
        log_offset: 0,
        agent_started: false,
        notice_at: null,
        last_heartbeat: null,
        stop_reason: null,
      });
      await this.d.recorder.event(
        job.id,
        { kind: "attempt_started", attempt: idx, spot: plan.spot, instance_type: plan.instanceTypes.join(",") },
        tx,
      );
      await this.d.recorder.setState(
        tx,
        job,
        "PROVISIONING",
        `attempt ${idx + 1}: launching ${what}${plan.spot ? "spot" : "on-demand"} ${plan.instanceTypes.join(",")}`,
        {
          attempt: idx,
          ...(failover ? { policy_json: failoverPolicyJson(failover) } : {}),
          ...(policyJson ? { policy_json: policyJson } : {}),
        },
      );
    });
    job.attempt = idx;
    await this.provision(ctx);
  }

  /**
   * A rebalance recommendation on a task that asks for it: launch the next attempt's instances now,
   * with the next attempt's idempotency key, so when the reclaim comes the recovery adopts a machine
   * that is already up. Same market and types as the current attempt.
   */
  prelaunch(ctx: JobContext, attempt: AttemptRow): void {
    const { job, task, provider } = ctx;
    const key = `${job.id}:${attempt.idx + 1}`;
    if (this.prelaunched.has(key)) return;
    this.prelaunched.add(key);
    const req = launchRequest(job, task, this.storeTag(), attempt.idx + 1, attempt.spot, [attempt.instance_type]);
    this.d.background(
      provider.launch(req).then(async (r) => {
        if (r.kind === "launched")
          await this.d.recorder.event(job.id, {
            kind: "prelaunched",
            attempt: attempt.idx + 1,
            instance_ids: r.instances.map((i) => i.id),
          });
      }),
    );
  }

  /** PROVISIONING: launch the attempt's instances (again, after a crash: the key adopts) and record them. */
  async provision(ctx: JobContext): Promise<void> {
    const { job, task, provider } = ctx;
    const attempt = await this.d.store.attempt(job.id, job.attempt);
    if (attempt?.state !== "LAUNCHING") return;
    const spot = attempt.spot;
    const failover = task.recovery.strategy === "failover" ? failoverStateOf(job.policy_json, job.id) : undefined;
    const offer = failover?.pending;
    const types = offer
      ? [offer.instanceType]
      : (task.resources.instance_types ??
        (task.resources.instance_type ? [task.resources.instance_type] : [attempt.instance_type].filter(Boolean)));
    const spotSequence = job.spot_requests;
    const warm = this.warm.instances(job.id, attempt.idx);
    // Its launch is still in flight: the next visit records what it rented.
    if (warm === "launching") return;
    // The replacement's launch was this attempt's request (and counted as one).
    if (warm?.every((i) => i.spot === spot)) return this.recordLaunched(ctx, attempt, warm, failover, offer, []);
    // recovery.partial: the nodes that survived the last attempt are this one's already.
    const kept = await keptNodes(this.d.store, job.id, attempt.idx);
    let result: LaunchResult;
    try {
      result = await provider.launch(
        launchRequest(job, task, this.storeTag(), attempt.idx, spot, types, offer, task.num_nodes - kept.length),
      );
    } catch (e) {
      if (e instanceof ProviderError && e.retryable) {
        await this.d.store.updateJob(job.id, {
          not_before: this.d.clock.now() + launchBackoffMs(job.launch_failures + 1),
          launch_failures: job.launch_failures + 1,
        });
        return;
      }
      if (e instanceof ControllerBug) throw e;
      const msg = e instanceof SpotrunError ? e.oneLine() : errorMessage(e);
      await this.teardown.endAttempt(ctx, attempt, "launch_failed", msg, { fatal: true });
      return;
    }
    if (spot) await this.d.store.updateJob(job.id, { spot_requests: spotSequence + 1 });
    job.spot_requests = spot ? spotSequence + 1 : job.spot_requests;
    if (result.kind === "refused")
      return handleRefusal(this.d, this.deadline, this.teardown, () => this.provision(ctx), ctx, attempt, result, offer);
    await this.recordLaunched(ctx, attempt, result.instances, failover, offer, kept);
  }

  private async recordLaunched(
    ctx: JobContext,
    attempt: AttemptRow,
    instances: readonly InstanceInfo[],
    failover: FailoverState | undefined,
    offer: Offer | undefined,
    kept: readonly NodeRow[],
  ): Promise<void> {
    await recordLaunched(this.d, ctx, attempt, instances, failover && offer ? { state: failover, offer } : undefined, kept);
    const over = overHourlyBudget(ctx.task, [...instances, ...kept]);
    if (over) await this.teardown.endAttempt(ctx, { ...attempt, state: "SETTING_UP" }, "over_budget", over);
  }
}
