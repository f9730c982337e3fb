import { randomBytes } from "node:crypto";
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { dirname, join } from "node:path";
import { type AgentEvent, agentPaths, parseEventLines } from "../agent/protocol.js";
import type { Clock } from "../base/clock.js";
import { errorMessage, SpotrunError } from "../base/errors.js";
import { attemptIdOf, InstanceId, idempotencyKey } from "../base/ids.js";
import type { Logger } from "../base/logger.js";
import { isAlive } from "../base/process.js";
import { Bootstrapper, type BootstrapReport } from "../bootstrap/bootstrap-agent.js";
import { asBootstrapError, type BootstrapError } from "../bootstrap/bootstrap-error.js";
import { attemptLogKey } from "../checkpoints/attempt-logs.js";
import { openCheckpointStore } from "../checkpoints/open-store.js";
import { summarize } from "../cost/ledger.js";
import { resolveDeadline } from "../placement/deadline.js";
import { type Current, type Decision, decide, initialPolicyState, parsePolicyState, seedFor } from "../placement/policy.js";
import {
  type InstanceInfo,
  type LaunchRequest,
  type Offer,
  type Provider,
  ProviderError,
  TAG,
  type TickedMarket,
} from "../providers/provider.js";
import type { ProviderCache } from "../providers/registry.js";
import type { ProviderKind, Task } from "../spec/task-schema.js";
import type { AttemptRow, JobRow, StateStore } from "../state/state-store.js";
import { isTransientStoreError } from "../state/store-errors.js";
import type { Transport } from "../transport/transport.js";
import { type AttemptEndKind, afterAttempt, budgetAction, endKindOf, launchBackoffMs, planLaunch } from "./decide.js";
import type { JobEvent } from "./events.js";
import { type FailoverState, parseFailoverState, planFailover, recordFailover } from "./failover-plan.js";
import { InterruptionHistory, type InterruptionHistoryOptions } from "./interruption-history.js";
import { canMove, isTerminal, type JobState } from "./job-state.js";
import {
  decidedTickAt,
  decisionPointOf,
  firstTickOf,
  parseTickDecision,
  type TickDecision,
  tickObservation,
  tickOf,
  tickStartOf,
  workDoneByTick,
} from "./market-ticks.js";
import { jobLogPath } from "./paths.js";
import { measureProgress, PROGRESS_EVENT_KINDS, progressMarks, restartOverhead } from "./progress.js";

export interface ControllerOptions {
  store: StateStore;
  providers: ProviderCache;
  home: string;
  clock: Clock;
  logger: Logger;
  /** How often the loop wakes. */
  tickMs?: number;
  /** How often a steadily running job is polled; jobs in transition are polled every tick. */
  steadyPollMs?: number;
  leaseTtlMs?: number;
  reapEveryMs?: number;
  /** An agent silent this long on a running instance is taken as lost. */
  heartbeatTimeoutMs?: number;
  /** Visits in flight at once (launches and uploads wait on networks; the store has one connection). */
  maxConcurrentVisits?: number;
  /** On a shared store: the most jobs this controller leases at once (the rest are left to others). */
  maxJobs?: number;
  /** Work that lives in the controller's process beside the loop, such as notification delivery. */
  companions?: ControllerCompanion[];
  /** How much instance time makes a pool's measured rate count, and how long a read is reused. */
  interruptionHistory?: InterruptionHistoryOptions;
}

/**
 * Ticked once per pass after the jobs' visits; its tick must not wait on the network (it starts
 * such work and returns). While it is busy a controller that leaves when idle stays; stop() is its
 * last word when the controller ends.
 */
export interface ControllerCompanion {
  tick(): Promise<void>;
  busy(): Promise<boolean>;
  stop(): Promise<void>;
}

export const LEASE = "controller";
/** On a shared store each controller holds its own lease, named with this prefix, to say it is alive. */
export const SHARED_LEASE_PREFIX = "controller:";
const MAX_LAUNCH_FAILURES = 10;

/**
 * This state store's id, in every instance's tags, so the reaper never touches another store's
 * instances. A shared store keeps it in the database: every controller of a team tags alike, and
 * any of them may end what another launched and no live attempt owns.
 */
export async function storeIdOf(store: StateStore, home: string): Promise<string> {
  return store.shared ? store.ensureSetting("store_id", randomBytes(6).toString("hex")) : storeId(home);
}

/** The id of a home's own (SQLite) store, kept in a file beside it. */
export function storeId(home: string): string {
  const file = join(home, "store-id");
  try {
    return readFileSync(file, "utf8").trim();
  } catch {
    mkdirSync(home, { recursive: true });
    const id = randomBytes(6).toString("hex");
    writeFileSync(file, id, { flag: "wx" });
    return id;
  }
}

/**
 * The reconcile loop: one per state store (held by a lease), one timer for all jobs. Each job is
 * moved one step toward its desired state per visit; every step is recorded before or after its
 * side effect in a way that a restarted controller can repeat safely (idempotency keys on every
 * launch, an agent that refuses to start twice, a reaper for what no live attempt owns).
 */
export class Controller {
  readonly owner = `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
  private readonly inflight = new Set<string>();
  private readonly nextVisit = new Map<string, number>();
  private readonly transports = new Map<string, Transport>();
  private lastReap = 0;
  private readonly tickMs: number;
  private readonly steadyPollMs: number;
  private readonly leaseTtlMs: number;
  private readonly reapEveryMs: number;
  private readonly heartbeatTimeoutMs: number;
  /** Set by the first `acquire` (reading it may need the database). */
  private storeTag = "";
  private readonly maxConcurrentVisits: number;
  /** Measured interruption rates for the failover walk's ranking, read at most once a minute per set of types. */
  private readonly history: InterruptionHistory;

  constructor(private readonly o: ControllerOptions) {
    this.history = new InterruptionHistory(o.store, () => o.clock.now(), o.interruptionHistory);
    this.tickMs = o.tickMs ?? 100;
    this.steadyPollMs = o.steadyPollMs ?? 250;
    this.leaseTtlMs = o.leaseTtlMs ?? 15_000;
    this.reapEveryMs = o.reapEveryMs ?? 10_000;
    this.heartbeatTimeoutMs = o.heartbeatTimeoutMs ?? 60_000;
    this.maxConcurrentVisits = o.maxConcurrentVisits ?? 32;
  }

  private get store() {
    return this.o.store;
  }
  private now() {
    return this.o.clock.now();
  }

  /** One store, one controller: the store's lease. A shared store: this controller's own, never contended. */
  private get leaseName(): string {
    return this.store.shared ? `${SHARED_LEASE_PREFIX}${this.owner}` : LEASE;
  }

  async acquire(): Promise<boolean> {
    if (!this.storeTag) this.storeTag = await storeIdOf(this.store, this.o.home);
    return this.store.acquireLease(this.leaseName, this.owner, this.leaseTtlMs, this.now(), isAlive);
  }

  async release(): Promise<void> {
    if (this.store.shared) await this.store.releaseJobs(this.owner);
    await this.store.releaseLease(this.leaseName, this.owner);
    for (const t of this.transports.values()) await t.close().catch(() => {});
    this.transports.clear();
  }

  /** Run until aborted, or until `until()` says so, or (with exitWhenIdle) no job is active. */
  async run(
    opts: { signal?: AbortSignal; exitWhenIdle?: boolean; until?: () => Promise<boolean> } = {},
  ): Promise<"idle" | "aborted" | "done" | "lease-lost"> {
    let storeTroubleSince: number | undefined;
    try {
      for (;;) {
        if (opts.signal?.aborted) return "aborted";
        try {
          if (!(await this.acquire())) return "lease-lost";
          await this.tick();
          for (const c of this.o.companions ?? [])
            await c
              .tick()
              .catch((e) => this.o.logger.warn({ err: errorMessage(e) }, "controller companion failed; next pass retries"));
          if (opts.until && (await opts.until())) return "done";
          if (
            opts.exitWhenIdle &&
            this.inflight.size === 0 &&
            (await this.store.countActive()) === 0 &&
            !(await this.companionsBusy())
          ) {
            // A job submitted while we decided to leave saw our lease and did not start a controller:
            // let go of the lease first, then look once more.
            await this.store.releaseLease(this.leaseName, this.owner);
            if ((await this.store.countActive()) === 0) return "idle";
          }
          storeTroubleSince = undefined;
        } catch (e) {
          // A command holding the store's lock longer than busy_timeout, a database restarting: the
          // jobs must not lose their controller over it. Retry until it has lasted a few leases.
          if (!isTransientStoreError(e)) throw e;
          storeTroubleSince ??= this.now();
          if (this.now() - storeTroubleSince > 4 * this.leaseTtlMs) throw e;
          this.o.logger.warn({ err: errorMessage(e) }, "state store busy; retrying");
        }
        await this.o.clock.sleep(this.tickMs, opts.signal).catch(() => {});
      }
    } finally {
      await this.waitInflight();
      for (const c of this.o.companions ?? []) await c.stop().catch(() => {});
      await this.release().catch((e) => this.o.logger.warn({ err: errorMessage(e) }, "could not release the lease"));
    }
  }

  private async companionsBusy(): Promise<boolean> {
    for (const c of this.o.companions ?? []) if (await c.busy().catch(() => false)) return true;
    return false;
  }

  private async waitInflight(): Promise<void> {
    for (let i = 0; i < 300 && this.inflight.size > 0; i++) await new Promise((r) => setTimeout(r, 10));
    await Promise.all([...this.pending]);
  }

  /** Active job ids of the current pass, and where the pass has got to. */
  private queue: string[] = [];
  private queuePos = 0;
  private lastLoad = Number.NEGATIVE_INFINITY;

  /**
   * One wake-up: when the current pass is through, start the next one from the active job ids
   * (not whole rows: each visit reads its own row fresh); keep a bounded number of visits running.
   * Visits chain into the next due job as they finish, so the loop's speed is that of the work, not
   * of the tick, and thousands of jobs never pile onto the store's connection at once.
   */
  async tick(): Promise<void> {
    const now = this.now();
    if (this.queuePos >= this.queue.length && now - this.lastLoad >= this.tickMs) {
      // A shared store: this pass's jobs are those leased to us (renewed here, once per pass).
      this.queue = this.store.shared ? await this.claim(now) : await this.store.activeJobIds();
      this.queuePos = 0;
      this.lastLoad = now;
    } else if (this.store.shared && now - this.lastClaim >= this.leaseTtlMs / 3) {
      // A pass longer than the lease must not let our jobs go to another controller mid-pass.
      await this.claim(now);
    }
    this.pump();
    if (now - this.lastReap >= this.reapEveryMs) {
      this.lastReap = now;
      await this.reap().catch((e) => this.o.logger.warn({ err: errorMessage(e) }, "reaper pass failed"));
    }
  }

  private held = new Set<string>();
  private lastClaim = Number.NEGATIVE_INFINITY;

  /** Renew our jobs' leases and take free ones; a job newly held says so in its events. */
  private async claim(now: number): Promise<string[]> {
    this.lastClaim = now;
    const ids = await this.store.claimJobs(this.owner, now, now + this.leaseTtlMs, this.o.maxJobs ?? 1_000_000);
    for (const id of ids) if (!this.held.has(id)) await this.event(id, { kind: "leased", controller: this.owner });
    this.held = new Set(ids);
    return ids;
  }

  private pump(): void {
    while (this.inflight.size < this.maxConcurrentVisits && this.queuePos < this.queue.length) {
      const id = this.queue[this.queuePos++] as string;
      if (this.inflight.has(id) || (this.nextVisit.get(id) ?? 0) > this.now()) continue;
      this.inflight.add(id);
      void this.visitId(id).finally(() => {
        this.inflight.delete(id);
        this.pump();
      });
    }
  }

  private async visitId(id: string): Promise<void> {
    const job = await this.store.job(id);
    if (!job || isTerminal(job.state as JobState)) {
      this.nextVisit.delete(id);
      return;
    }
    await this.visit(job);
  }

  private async visit(job: JobRow): Promise<void> {
    try {
      let steady = await this.reconcile(job);
      // An attempt that just ended goes straight on to the next one: recovery time is lost work.
      for (let i = 0; i < 2 && job.state === "RECOVERING" && job.desired === "run" && job.not_before <= this.now(); i++) {
        const fresh = await this.store.job(job.id);
        if (!fresh) break;
        job = fresh;
        steady = await this.reconcile(job);
      }
      this.nextVisit.set(job.id, this.now() + (steady ? this.steadyPollMs : 0));
    } catch (e) {
      this.o.logger.warn({ job: job.id, err: errorMessage(e) }, "reconcile failed; will retry");
      this.nextVisit.set(job.id, this.now() + 1000);
    }
  }

  private event(jobId: string, e: JobEvent, tx: StateStore = this.store): Promise<void> {
    return tx.appendEvent(jobId, this.now(), e);
  }

  private async setState(tx: StateStore, job: JobRow, to: JobState, reason: string, patch: Partial<JobRow> = {}): Promise<void> {
    const from = job.state as JobState;
    if (!canMove(from, to)) throw new Error(`bug: illegal job transition ${from} → ${to} for ${job.id}`);
    const now = this.now();
    await tx.updateJob(job.id, {
      ...patch,
      state: to,
      message: reason,
      updated_at: now,
      ...(isTerminal(to) ? { ended_at: now } : {}),
    });
    if (from !== to) await this.event(job.id, { kind: "state_changed", from, to, reason }, tx);
    // Keep the caller's row in step with what was written, so the next step in this visit sees it.
    Object.assign(job, patch);
    job.state = to;
  }

  /** Returns true when the job is in a steady state (poll it less often). */
  private async reconcile(job: JobRow): Promise<boolean> {
    const task = JSON.parse(job.task_json) as Task;
    const provider = await this.o.providers.get(task.resources.provider);
    if (job.desired === "cancel") {
      await this.cancel(job, provider);
      return false;
    }
    switch (job.state as JobState) {
      case "PENDING":
      case "RECOVERING":
        await this.startAttempt(job, task, provider);
        return false;
      case "PROVISIONING":
        await this.provision(job, task, provider);
        return false;
      case "SETTING_UP":
      case "RUNNING":
        return this.supervise(job, task, provider);
      default:
        return true;
    }
  }

  private async jobCost(jobId: string): Promise<number> {
    return summarize(await this.store.instances({ jobId }), this.now()).cost_usd;
  }

  private async startAttempt(job: JobRow, task: Task, provider: Provider): Promise<void> {
    if (this.now() < job.not_before) return;
    if (task.budget.max_cost !== undefined && (await this.jobCost(job.id)) >= task.budget.max_cost) {
      await this.store.transaction((tx) => this.setState(tx, job, "OVER_BUDGET", `budget of $${task.budget.max_cost} spent`));
      return;
    }
    const past = (await this.store.attempts(job.id)).map((a) => ({
      spot: a.spot === 1,
      endKind: a.end_kind,
      endedAt: a.ended_at,
    }));
    let plan = planLaunch(task, past, this.now());
    let failover: FailoverState | undefined;
    if (task.recovery.strategy === "failover") {
      failover = parseFailoverState(job.policy_json);
      const next = await planFailover(provider, task, failover, this.now(), (offers) => this.history.forOffers(offers));
      if (next.kind === "wait") {
        const fatal = next.untilMs === undefined;
        await this.store.transaction(async (tx) => {
          await this.event(job.id, { kind: "warning", message: next.reason }, tx);
          if (fatal) await this.setState(tx, job, "FAILED", next.reason);
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
      const t = await this.tickDecision(job, task, ticked, { toLaunch: true });
      if (t.kind === "wait" || t.choice === "idle") {
        // Before the job's first tick, or idle for this one: nothing runs until the next decision.
        const until = t.kind === "wait" ? t.untilMs : decisionPointOf(ticked, t.tick + 1);
        await this.store.updateJob(job.id, { not_before: until, message: t.kind === "wait" ? t.reason : `deadline: ${t.rule}` });
        return;
      }
      plan = { ...plan, spot: t.choice === "spot", reason: `deadline: ${t.rule} (tick ${t.tick})` };
    } else if (task.recovery.strategy === "deadline") {
      const d = await this.deadlineDecision(job, task, "none", task.resources.spot);
      if (d.choice === "idle") {
        // Ahead of the line with no spot to be had: wait, paying nothing, and look again next interval.
        await this.store.updateJob(job.id, {
          policy_json: JSON.stringify(d.state),
          not_before: this.now() + task.recovery.decision_interval,
        });
        return;
      }
      plan = { ...plan, spot: d.choice === "spot", reason: `deadline: ${d.rule}` };
      policyJson = JSON.stringify(d.state);
    }
    const idx = job.attempt + 1;
    await this.store.transaction(async (tx) => {
      await tx.insertAttempt({
        job_id: job.id,
        idx,
        state: "LAUNCHING",
        spot: plan.spot ? 1 : 0,
        instance_type: plan.instanceTypes[0] ?? "",
        started_at: this.now(),
        ended_at: null,
        end_kind: null,
        end_detail: null,
        events_offset: 0,
        log_offset: 0,
        agent_started: 0,
        notice_at: null,
        last_heartbeat: null,
        stop_reason: null,
      });
      await this.event(
        job.id,
        { kind: "attempt_started", attempt: idx, spot: plan.spot, instance_type: plan.instanceTypes.join(",") },
        tx,
      );
      await this.setState(
        tx,
        job,
        "PROVISIONING",
        `attempt ${idx}: launching ${plan.spot ? "spot" : "on-demand"} ${plan.instanceTypes.join(",")}`,
        {
          attempt: idx,
          ...(failover ? { policy_json: JSON.stringify(failover) } : {}),
          ...(policyJson ? { policy_json: policyJson } : {}),
        },
      );
    });
    job.attempt = idx;
    await this.provision(job, task, provider);
  }

  /** The launch of one attempt; its idempotency key makes a repeat (or a pre-launch) adopt, not duplicate. */
  private launchRequest(job: JobRow, task: Task, idx: number, spot: boolean, types: string[], offer?: Offer): LaunchRequest {
    // Never rent what the budget refuses: the hourly cap bounds the price asked for, per node.
    const caps = [
      task.resources.max_price,
      task.budget.max_hourly !== undefined ? task.budget.max_hourly / task.num_nodes : undefined,
    ].filter((x): x is number => x !== undefined);
    const maxPrice = caps.length ? Math.min(...caps) : undefined;
    if (!this.storeTag) throw new Error("bug: a launch before the controller acquired its lease");
    return {
      token: `${idempotencyKey(attemptIdOf(job.id as never, idx))}${spot ? "" : "-od"}`,
      instanceTypes: types,
      spot,
      ...(maxPrice !== undefined ? { maxPrice } : {}),
      ...(task.resources.region ? { region: task.resources.region } : {}),
      ...(offer?.zone || task.resources.zone ? { zone: offer?.zone ?? task.resources.zone } : {}),
      ...(offer ? { offer } : {}),
      count: task.num_nodes,
      tags: {
        [TAG.managed]: this.storeTag,
        [TAG.job]: job.id,
        [TAG.attempt]: String(idx),
        [TAG.spot]: String(spot),
        ...(task.resources.max_price !== undefined ? { [TAG.maxPrice]: String(task.resources.max_price) } : {}),
        [TAG.onInterruption]: task.resources.on_interruption,
        ...(task.checkpoint.hook ? { [TAG.checkpointScript]: task.checkpoint.hook } : {}),
      },
      resources: task.resources,
      spotSequence: job.spot_requests,
    };
  }

  private readonly prelaunched = new Set<string>();

  /**
   * A rebalance recommendation on a task that asks for it: launch the next attempt's instances now,
   * with the next attempt's idempotency key, so when the reclaim comes the recovery adopts a machine
   * that is already up. Same market and types as the current attempt.
   */
  private prelaunch(job: JobRow, task: Task, attempt: AttemptRow, provider: Provider): void {
    const key = `${job.id}:${attempt.idx + 1}`;
    if (this.prelaunched.has(key)) return;
    this.prelaunched.add(key);
    const req = this.launchRequest(job, task, attempt.idx + 1, attempt.spot === 1, [attempt.instance_type]);
    this.background(
      provider.launch(req).then(async (r) => {
        if (r.kind === "launched")
          await this.event(job.id, { kind: "prelaunched", attempt: attempt.idx + 1, instance_ids: r.instances.map((i) => i.id) });
      }),
    );
  }

  private async provision(job: JobRow, task: Task, provider: Provider): Promise<void> {
    const attempt = await this.store.attempt(job.id, job.attempt);
    if (attempt?.state !== "LAUNCHING") return;
    const spot = attempt.spot === 1;
    const failover = task.recovery.strategy === "failover" ? parseFailoverState(job.policy_json) : undefined;
    const offer = failover?.pending;
    const types = offer
      ? [offer.instanceType]
      : (task.resources.instance_types ??
        (task.resources.instance_type ? [task.resources.instance_type] : [attempt.instance_type].filter(Boolean)));
    const spotSequence = job.spot_requests;
    let result: Awaited<ReturnType<Provider["launch"]>>;
    try {
      result = await provider.launch(this.launchRequest(job, task, attempt.idx, spot, types, offer));
    } catch (e) {
      if (e instanceof ProviderError && e.retryable) {
        await this.store.updateJob(job.id, {
          not_before: this.now() + launchBackoffMs(job.launch_failures + 1),
          launch_failures: job.launch_failures + 1,
        });
        return;
      }
      const msg = e instanceof SpotrunError ? e.oneLine() : errorMessage(e);
      await this.endAttempt(job, task, attempt, "launch_failed", msg, provider, { fatal: true });
      return;
    }
    if (spot) await this.store.updateJob(job.id, { spot_requests: spotSequence + 1 });
    job.spot_requests = spot ? spotSequence + 1 : job.spot_requests;
    if (result.kind === "refused") {
      await this.event(job.id, {
        kind: "launch_refused",
        attempt: attempt.idx,
        code: result.code,
        message: result.message,
        spot,
      });
      const deadlineSaysOnDemand =
        spot &&
        task.recovery.strategy === "deadline" &&
        !provider.tickedMarket?.(task.resources) &&
        (await this.deadlineDecision(job, task, "none", false)).choice === "on_demand";
      if (spot && (task.resources.fallback_on_demand || deadlineSaysOnDemand)) {
        await this.store.transaction(async (tx) => {
          await tx.updateAttempt(job.id, attempt.idx, { spot: 0 });
          await this.event(job.id, { kind: "fallback_on_demand", attempt: attempt.idx, code: result.code }, tx);
        });
        this.o.logger.info({ job: job.id }, `spot refused (${result.code}); falling back to on-demand`);
        return this.provision(job, task, provider);
      }
      if (failover && offer) {
        // Walk on: the refused pool is blocked for a while and the next offer is tried at once.
        const next = recordFailover(failover, { kind: "refused", offer, atMs: this.now(), refusal: result.refusal });
        await this.store.updateJob(job.id, { policy_json: JSON.stringify(next) });
        job.policy_json = JSON.stringify(next);
        const fatal = job.launch_failures + 1 > MAX_LAUNCH_FAILURES;
        await this.endAttempt(
          job,
          task,
          attempt,
          "launch_failed",
          `provider refused: ${result.code} — ${result.message}; failing over`,
          provider,
          { fatal, immediate: true },
        );
        return;
      }
      const fatal = job.attempt === 0 || job.launch_failures + 1 > MAX_LAUNCH_FAILURES;
      await this.endAttempt(
        job,
        task,
        attempt,
        "launch_failed",
        `provider refused: ${result.code} — ${result.message}`,
        provider,
        { fatal },
      );
      return;
    }
    const priceCap = task.budget.max_hourly;
    const hourly = result.instances.reduce((a, i) => a + i.pricePerHour, 0);
    await this.store.transaction(async (tx) => {
      for (const [node, i] of result.instances.entries()) {
        await tx.upsertInstance({
          id: i.id,
          job_id: job.id,
          attempt: attempt.idx,
          node,
          provider: i.provider,
          instance_type: i.instanceType,
          zone: i.zone ?? null,
          region: i.region ?? null,
          spot: i.spot ? 1 : 0,
          price_per_hour: i.pricePerHour,
          od_price_per_hour: i.onDemandPricePerHour,
          launched_at: i.launchedAt,
          ended_at: null,
          end_reason: null,
          address: i.address ?? null,
        });
        await this.event(
          job.id,
          {
            kind: "instance_launched",
            attempt: attempt.idx,
            instance_id: i.id,
            spot: i.spot,
            price_usd_per_hour: i.pricePerHour,
            ...(i.zone ? { zone: i.zone } : {}),
          },
          tx,
        );
      }
      await tx.updateAttempt(job.id, attempt.idx, {
        state: "SETTING_UP",
        instance_type: result.instances[0]?.instanceType ?? attempt.instance_type,
      });
      await this.setState(
        tx,
        job,
        "SETTING_UP",
        `attempt ${attempt.idx}: ${result.instances.map((i) => i.id).join(", ")} launched`,
        {
          launch_failures: 0,
          ...(failover && offer
            ? { policy_json: JSON.stringify(recordFailover(failover, { kind: "launched", offer, atMs: this.now() })) }
            : {}),
        },
      );
    });
    if (priceCap !== undefined && hourly > priceCap) {
      await this.endAttempt(
        job,
        task,
        { ...attempt, state: "SETTING_UP" },
        "over_budget",
        `hourly price $${hourly} is over budget.max_hourly $${priceCap}`,
        provider,
      );
    }
  }

  private async transportFor(provider: Provider, info: InstanceInfo): Promise<Transport> {
    let t = this.transports.get(info.id);
    if (!t) {
      t = await provider.transport(info);
      this.transports.set(info.id, t);
    }
    return t;
  }

  private async supervise(job: JobRow, task: Task, provider: Provider): Promise<boolean> {
    const attempt = await this.store.attempt(job.id, job.attempt);
    if (!attempt || attempt.state === "ENDED") return true;
    const rows = await this.store.instances({ jobId: job.id, attempt: attempt.idx });
    const infos = await provider.describe(rows.map((r) => InstanceId(r.id)));
    const byId = new Map(infos.map((i) => [i.id as string, i]));
    const nodes = rows.map((r) => byId.get(r.id));
    const primary = nodes[0];
    const failed = nodes.find((i) => i?.failure);
    if (failed?.failure) {
      const what =
        failed.failure.kind === "disk_full"
          ? `disk full on ${failed.id} (${failed.failure.message}) — raise resources.disk`
          : failed.failure.message;
      await this.endAttempt(job, task, attempt, "setup_failed", what, provider);
      return false;
    }
    const gone = nodes.find((i) => !i || i.status === "terminated" || i.interrupted);
    const ticked = task.recovery.strategy === "deadline" ? provider.tickedMarket?.(task.resources) : undefined;
    if (ticked && (await this.reviewTick(job, task, attempt, provider, primary, ticked))) return false;

    if (!attempt.agent_started) {
      if (gone) return this.instanceGone(job, task, attempt, provider, gone);
      // SETTING_UP has a deadline: an instance that never runs or never answers ends the attempt.
      const setupTimeout = task.recovery.setup_timeout ?? 1_200_000;
      if (this.now() - attempt.started_at > setupTimeout) {
        const last = this.bootstrapRetries.get(`${job.id}:${attempt.idx}`)?.error;
        const waiting = nodes.find((i) => i?.status !== "running");
        const what = last
          ? last.oneLine()
          : `instance ${waiting?.id ?? primary?.id} was not running after recovery.setup_timeout ${Math.round(setupTimeout / 1000)} s — raise recovery.setup_timeout or check the provider`;
        await this.endAttempt(
          job,
          task,
          attempt,
          "setup_failed",
          `${what} (setup_timeout ${Math.round(setupTimeout / 1000)} s)`,
          provider,
        );
        return false;
      }
      if (!primary || nodes.some((i) => i?.status !== "running")) return false;
      await this.bootstrap(job, task, attempt, provider, nodes as InstanceInfo[]);
      return false;
    }

    // Read what the agent reported before judging the instance: its last words say why it ended.
    let ended = false;
    if (primary && primary.status !== "terminated") ended = await this.ingest(job, task, attempt, provider, primary);
    if (ended) return false;
    if (gone) return this.instanceGone(job, task, attempt, provider, gone);
    if (nodes.length > 1 && (await this.checkNodes(job, task, attempt, provider, nodes as InstanceInfo[]))) return false;
    if (primary) await this.checkHeartbeat(job, task, attempt, provider, primary);
    await this.checkBudget(job, task, attempt, provider, primary);
    if (
      task.recovery.strategy === "deadline" &&
      !ticked &&
      primary &&
      job.state === "RUNNING" &&
      attempt.notice_at === null &&
      !attempt.stop_reason
    )
      await this.reviewMarket(job, task, attempt, provider, primary);
    return attempt.notice_at === null && job.state === "RUNNING";
  }

  private async instanceGone(
    job: JobRow,
    task: Task,
    attempt: AttemptRow,
    provider: Provider,
    info: InstanceInfo | undefined,
  ): Promise<boolean> {
    const spot = info?.spot ?? attempt.spot === 1;
    const reason = info?.interrupted?.reason ?? (info ? `instance ${info.id} ${info.status}` : "instance vanished");
    if (attempt.agent_started) await this.recoverLog(job, attempt);
    await this.endAttempt(job, task, attempt, spot ? "preempted" : "lost", reason, provider);
    return false;
  }

  private async bootstrap(
    job: JobRow,
    task: Task,
    attempt: AttemptRow,
    provider: Provider,
    nodes: InstanceInfo[],
  ): Promise<void> {
    // Workers reach the coordinator on the private network where the provider knows it (TPU slices).
    const head = nodes[0];
    const headIp = head?.tags["spotrun:internal-ip"] ?? head?.address?.split(":")[0];
    const coordinator = nodes.length > 1 && headIp ? `${headIp}:8476` : undefined;
    const logPath = jobLogPath(this.o.home, job.id);
    mkdirSync(dirname(logPath), { recursive: true });
    appendFileSync(
      logPath,
      `[spotrun] attempt ${attempt.idx} on ${nodes.map((n) => `${n.id} (${n.spot ? "spot" : "on-demand"} ${n.instanceType})`).join(", ")}\n`,
    );
    const key = `${job.id}:${attempt.idx}`;
    const retry = this.bootstrapRetries.get(key);
    if (retry && this.now() < retry.at) return;
    const results = await Promise.allSettled(
      nodes.map(async (info, node) => {
        const t = await this.transportFor(provider, info).catch((e) => {
          throw asBootstrapError(info.id, "connect", e);
        });
        return this.bootstrapper.run(provider, info, t, {
          jobId: job.id,
          attempt: attempt.idx,
          restartCount: attempt.idx,
          node,
          numNodes: nodes.length,
          ...(coordinator ? { coordinatorAddress: coordinator } : {}),
          task,
          baseDir: job.base_dir,
          storeUrl: job.store_url,
        });
      }),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) {
      const e = asBootstrapError(nodes[0]?.id ?? "?", "start", failed.reason);
      // A bootstrap cut short because its instance was reclaimed is the instance's end, not a setup
      // fault: the next visit sees it gone and ends the attempt as a preemption.
      const now = await provider.describe(nodes.map((n) => n.id)).catch(() => undefined);
      const reclaimed =
        now &&
        nodes.some((n) => {
          const i = now.find((x) => x.id === n.id);
          return !i || i.status !== "running" || i.interrupted !== undefined;
        });
      if (reclaimed) return;
      // A failure no retry can fix (a changed host key, a full disk, no tar) is a setup failure with
      // its cause, not a preemption: the instance goes and the job does not rent the same fault again.
      if (!e.retryable) {
        this.bootstrapRetries.delete(key);
        await this.endAttempt(job, task, attempt, "setup_failed", e.oneLine(), provider);
        return;
      }
      const n = (retry?.n ?? 0) + 1;
      const wait = Math.min(30_000, 1000 * 2 ** (n - 1)) * (0.5 + Math.random() / 2);
      this.bootstrapRetries.set(key, { n, at: this.now() + wait, error: e });
      await this.event(job.id, { kind: "warning", message: `bootstrap try ${n} failed, retrying: ${e.oneLine()}` });
      return;
    }
    this.bootstrapRetries.delete(key);
    const reports = results.map((r) => (r as PromiseFulfilledResult<BootstrapReport>).value);
    await this.store.transaction(async (tx) => {
      for (const [node, r] of reports.entries()) await this.event(job.id, bootstrapEvent(attempt.idx, node, r), tx);
      await tx.updateAttempt(job.id, attempt.idx, { agent_started: 1, last_heartbeat: this.now() });
      await this.event(job.id, { kind: "agent_started", attempt: attempt.idx }, tx);
    });
  }

  /** Bootstrap tries per attempt that failed in a way another try may fix: when to try next, and the last cause. */
  private readonly bootstrapRetries = new Map<string, { n: number; at: number; error: BootstrapError }>();
  private readonly bootstrapper = new Bootstrapper({ progress: (m) => this.o.logger.info({}, m) });

  /** Pull new agent events and log bytes; apply them. Returns true if the attempt ended. */
  private async ingest(job: JobRow, task: Task, attempt: AttemptRow, provider: Provider, info: InstanceInfo): Promise<boolean> {
    const t = await this.transportFor(provider, info);
    const paths = agentPaths();
    const [evBytes, logBytes] = await Promise.all([
      t.readFile(paths.events, attempt.events_offset).catch(() => undefined),
      t.readFile(paths.log, attempt.log_offset).catch(() => undefined),
    ]);
    if (logBytes && logBytes.length > 0) {
      appendFileSync(jobLogPath(this.o.home, job.id), logBytes);
      await this.store.updateAttempt(job.id, attempt.idx, { log_offset: attempt.log_offset + logBytes.length });
      attempt.log_offset += logBytes.length;
    }
    if (!evBytes || evBytes.length === 0) return false;
    const { events, consumed } = parseEventLines(evBytes.toString("utf8"));
    if (events.length === 0) return false;
    let exit: Extract<AgentEvent, { kind: "agent_exit" }> | undefined;
    let rebalanced = false;
    await this.store.transaction(async (tx) => {
      for (const e of events) {
        const mapped = this.mapAgentEvent(attempt.idx, e);
        if (mapped) await tx.appendEvent(job.id, e.at, mapped);
        if (e.kind === "run_started" && job.state === "SETTING_UP")
          await this.setState(tx, job, "RUNNING", `attempt ${attempt.idx}: running${e.restart ? " (restart)" : ""}`);
        if (e.kind === "notice") await tx.updateAttempt(job.id, attempt.idx, { notice_at: e.seen_at });
        if (e.kind === "rebalance" && task.recovery.prelaunch_on_rebalance) rebalanced = true;
        if (e.kind === "agent_exit") exit = e;
      }
      await tx.updateAttempt(job.id, attempt.idx, {
        events_offset: attempt.events_offset + consumed,
        last_heartbeat: this.now(),
      });
    });
    attempt.events_offset += consumed;
    if (rebalanced) this.prelaunch(job, task, attempt, provider);
    if (!exit) return false;
    const stopReason =
      exit.outcome === "stopped" ? (attempt.stop_reason ?? (job.budget_warned >= 2 ? "budget" : "cancel")) : undefined;
    const kind = endKindOf(exit.outcome, stopReason);
    const detail = exit.exit_code !== undefined && exit.exit_code !== null ? `exit code ${exit.exit_code}` : (exit.message ?? "");
    // Pull the last log bytes before the instance goes.
    const tail = await t.readFile(paths.log, attempt.log_offset).catch(() => undefined);
    if (tail && tail.length > 0) appendFileSync(jobLogPath(this.o.home, job.id), tail);
    await this.endAttempt(job, task, attempt, kind, detail, provider);
    return true;
  }

  /**
   * The lines an instance printed after we last read it, from the copy its agent kept with the
   * checkpoints before it went (no controller may have been reading when it was reclaimed).
   */
  private async recoverLog(job: JobRow, attempt: AttemptRow): Promise<void> {
    const bytes = await Promise.race([
      openCheckpointStore(job.store_url)
        .then((s) => s.blobs.getBytes(attemptLogKey(attempt.idx)))
        .catch(() => undefined),
      new Promise<undefined>((r) => setTimeout(() => r(undefined), 5000).unref()),
    ]);
    if (!bytes || bytes.length <= attempt.log_offset) return;
    appendFileSync(jobLogPath(this.o.home, job.id), bytes.subarray(attempt.log_offset));
    await this.store.updateAttempt(job.id, attempt.idx, { log_offset: bytes.length });
    attempt.log_offset = bytes.length;
  }

  private mapAgentEvent(attempt: number, e: AgentEvent): JobEvent | undefined {
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
        return { kind: "warning", message: `attempt ${attempt}: checkpoint upload failed: ${e.message}` };
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

  private readonly unreachableSince = new Map<string, number>();
  private readonly lastNodeCheck = new Map<string, number>();

  /**
   * Multi-node jobs run as one: every couple of seconds each node's heartbeat is read; a node that
   * cannot be reached for `nodeLossMs` (or whose agent went silent) ends the attempt on all of them.
   * Returns true if it did.
   */
  private async checkNodes(
    job: JobRow,
    task: Task,
    attempt: AttemptRow,
    provider: Provider,
    nodes: InstanceInfo[],
  ): Promise<boolean> {
    const now = this.now();
    if (now - (this.lastNodeCheck.get(job.id) ?? 0) < 2000) return false;
    this.lastNodeCheck.set(job.id, now);
    const lossMs = Math.min(this.heartbeatTimeoutMs, 10_000);
    for (const [i, info] of nodes.entries()) {
      const beat = await Promise.race([
        this.transportFor(provider, info)
          .then((t) => t.readFile(agentPaths().heartbeat))
          .then((b) => Number(b?.toString()))
          .catch(() => Number.NaN),
        new Promise<number>((r) => setTimeout(() => r(Number.NaN), 3000)),
      ]);
      const alive = Number.isFinite(beat) && now - beat < lossMs;
      if (i > 0) {
        // Node 0 reports for the job; another node's agent that ended on its own says why here.
        // A stop the controller asked for is node 0's to report. A reclaim reaches every node of a
        // slice at once, and whichever agent is read first says so: a preemption, not a lost node.
        const exit = await this.nodeExit(provider, info);
        if (exit && exit.outcome !== "succeeded" && exit.outcome !== "stopped") {
          const what = exit.outcome === "setup_failed" ? "setup" : exit.outcome === "failed" ? "run" : exit.outcome;
          const kind: AttemptEndKind =
            exit.outcome === "setup_failed"
              ? "setup_failed"
              : exit.outcome === "failed"
                ? "user_error"
                : exit.outcome === "preempted"
                  ? "preempted"
                  : "lost";
          await this.endAttempt(
            job,
            task,
            attempt,
            kind,
            `node ${i} (${info.id}): ${what} ended${exit.exit_code != null ? ` with exit code ${exit.exit_code}` : ""}`,
            provider,
          );
          return true;
        }
      }
      if (alive) {
        this.unreachableSince.delete(info.id);
        continue;
      }
      const since = this.unreachableSince.get(info.id) ?? now;
      this.unreachableSince.set(info.id, since);
      if (now - since >= lossMs) {
        this.unreachableSince.delete(info.id);
        await this.endAttempt(
          job,
          task,
          attempt,
          "lost",
          `node ${i} (${info.id}) unreachable for ${Math.round((now - since) / 1000)}s`,
          provider,
        );
        return true;
      }
    }
    return false;
  }

  /** How far each secondary node's event log has been read, and its agent's exit once seen. */
  private readonly nodeEvents = new Map<string, { offset: number; exit?: Extract<AgentEvent, { kind: "agent_exit" }> }>();

  /** The `agent_exit` a node's agent wrote, if it has ended; each check reads only what is new. */
  private async nodeExit(
    provider: Provider,
    info: InstanceInfo,
  ): Promise<Extract<AgentEvent, { kind: "agent_exit" }> | undefined> {
    const seen = this.nodeEvents.get(info.id) ?? { offset: 0 };
    this.nodeEvents.set(info.id, seen);
    if (seen.exit) return seen.exit;
    const bytes = await Promise.race([
      this.transportFor(provider, info)
        .then((t) => t.readFile(agentPaths().events, seen.offset))
        .catch(() => undefined),
      new Promise<undefined>((r) => setTimeout(() => r(undefined), 3000)),
    ]);
    if (!bytes || bytes.length === 0) return undefined;
    const { events, consumed } = parseEventLines(bytes.toString("utf8"));
    seen.offset += consumed;
    const exit = events.findLast((e): e is Extract<AgentEvent, { kind: "agent_exit" }> => e.kind === "agent_exit");
    if (exit) seen.exit = exit;
    return exit;
  }

  private async checkHeartbeat(
    job: JobRow,
    task: Task,
    attempt: AttemptRow,
    provider: Provider,
    info: InstanceInfo,
  ): Promise<void> {
    const now = this.now();
    if (now - (attempt.last_heartbeat ?? now) < this.heartbeatTimeoutMs / 2) return;
    const t = await this.transportFor(provider, info);
    const hb = Number((await t.readFile(agentPaths().heartbeat).catch(() => undefined))?.toString() ?? Number.NaN);
    if (Number.isFinite(hb) && now - hb < this.heartbeatTimeoutMs) {
      await this.store.updateAttempt(job.id, attempt.idx, { last_heartbeat: now });
      return;
    }
    if (now - (attempt.last_heartbeat ?? now) >= this.heartbeatTimeoutMs)
      await this.endAttempt(job, task, attempt, "lost", "the agent stopped reporting", provider);
  }

  private readonly lastReview = new Map<string, number>();
  private readonly lastDecision = new Map<string, string>();

  /** One tick of the deadline policy on the job's measured progress; the state is kept only when acted on. */
  private async deadlineDecision(job: JobRow, task: Task, current: Current, spotAvailable: boolean): Promise<Decision> {
    const r = task.recovery;
    const now = this.now();
    const [attempts, events] = await Promise.all([
      this.store.attempts(job.id),
      this.store.eventsOfKind(job.id, PROGRESS_EVENT_KINDS),
    ]);
    const m = measureProgress(attempts, events, now, r.restart_overhead, r.work as number);
    const state = job.policy_json
      ? parsePolicyState(JSON.parse(job.policy_json))
      : initialPolicyState(r.deadline_policy, { seed: seedFor(job.id) });
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
      await this.event(job.id, {
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
  private async tickDecision(
    job: JobRow,
    task: Task,
    m: TickedMarket,
    opts: { toLaunch?: boolean } = {},
  ): Promise<({ kind: "decided" } & TickDecision) | { kind: "wait"; untilMs: number; reason: string }> {
    const r = task.recovery;
    const now = this.now();
    const firstTick = firstTickOf(m, job.created_at);
    const tick = decidedTickAt(m, now);
    if (tick < firstTick)
      return { kind: "wait", untilMs: decisionPointOf(m, firstTick), reason: "waiting for the market's next tick" };
    // A launch between a tick's start and its decision point (after a reclaim at that start) waits
    // for that tick's decision: the last one was taken on a market that has since moved.
    if (opts.toLaunch && tick < tickOf(m, now))
      return { kind: "wait", untilMs: decisionPointOf(m, tickOf(m, now)), reason: "waiting for this tick's decision" };
    const row: unknown = job.policy_json ? JSON.parse(job.policy_json) : null;
    const kept = parseTickDecision(row);
    if (kept?.tick === tick) return { kind: "decided", ...kept };

    const [attempts, events] = await Promise.all([
      this.store.attempts(job.id),
      this.store.eventsOfKind(job.id, PROGRESS_EVENT_KINDS),
    ]);
    const marks = progressMarks(events);
    const last = attempts.at(-1);
    const live = last && last.state !== "ENDED" ? { spot: last.spot === 1, startedAt: last.started_at } : undefined;
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
    const state = row ? parsePolicyState(row) : initialPolicyState(r.deadline_policy, { seed: seedFor(job.id) });
    const d = decide(obs, state);
    const decided: TickDecision = { tick, choice: d.choice, rule: d.rule };
    const policyJson = JSON.stringify({ ...d.state, decided });
    await this.store.transaction(async (tx) => {
      await tx.updateJob(job.id, { policy_json: policyJson });
      await this.event(
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
  private async reviewTick(
    job: JobRow,
    task: Task,
    attempt: AttemptRow,
    provider: Provider,
    primary: InstanceInfo | undefined,
    m: TickedMarket,
  ): Promise<boolean> {
    const t = await this.tickDecision(job, task, m);
    if (t.kind === "wait" || attempt.stop_reason || attempt.notice_at !== null) return false;
    const current = attempt.spot === 1 ? "spot" : "on_demand";
    // A reclaimed spot ends by itself; the recovery then acts on this tick's decision.
    if (t.choice === current || (current === "spot" && !m.spotAvailableAt(t.tick))) return false;
    const reason = `deadline: ${t.rule} (tick ${t.tick})`;
    if (!attempt.agent_started || !primary) {
      // Nothing has run on it yet: there is nothing to save.
      await this.endAttempt(job, task, attempt, "changeover", reason, provider);
      return true;
    }
    await this.store.updateAttempt(job.id, attempt.idx, { stop_reason: "changeover" });
    attempt.stop_reason = "changeover";
    const tr = await this.transportFor(provider, primary);
    await tr.writeFile(agentPaths().control, JSON.stringify({ action: "checkpoint-and-stop", reason: "changeover" }));
    return false;
  }

  /** Every decision interval: does the running attempt's market still keep the job on schedule? */
  private async reviewMarket(
    job: JobRow,
    task: Task,
    attempt: AttemptRow,
    provider: Provider,
    info: InstanceInfo,
  ): Promise<void> {
    const now = this.now();
    if (now - (this.lastReview.get(job.id) ?? attempt.started_at) < task.recovery.decision_interval) return;
    this.lastReview.set(job.id, now);
    const current: Current = attempt.spot === 1 ? "spot" : "on_demand";
    const d = await this.deadlineDecision(job, task, current, current === "spot" || task.resources.spot);
    if (d.choice === current || d.choice === "idle") {
      await this.store.updateJob(job.id, { policy_json: JSON.stringify(d.state) });
      return;
    }
    // A changeover: checkpoint and stop this attempt; the next one launches on the market chosen.
    await this.store.updateJob(job.id, { policy_json: JSON.stringify(d.state) });
    await this.store.updateAttempt(job.id, attempt.idx, { stop_reason: "changeover" });
    const t = await this.transportFor(provider, info);
    await t.writeFile(agentPaths().control, JSON.stringify({ action: "checkpoint-and-stop", reason: "changeover" }));
  }

  private async checkBudget(
    job: JobRow,
    task: Task,
    attempt: AttemptRow,
    provider: Provider,
    info: InstanceInfo | undefined,
  ): Promise<void> {
    const max = task.budget.max_cost;
    if (max === undefined) return;
    const spent = await this.jobCost(job.id);
    const action = budgetAction(spent, max, job.budget_warned);
    if (action === "warn") {
      await this.store.transaction(async (tx) => {
        await tx.updateJob(job.id, { budget_warned: 1 });
        await this.event(job.id, { kind: "budget_warning", spent_usd: spent, max_cost_usd: max }, tx);
      });
    } else if (action === "stop") {
      await this.store.transaction(async (tx) => {
        await tx.updateJob(job.id, { budget_warned: 2 });
        await this.event(job.id, { kind: "budget_exceeded", spent_usd: spent, max_cost_usd: max }, tx);
      });
      job.budget_warned = 2;
      if (info && attempt.agent_started) {
        const t = await this.transportFor(provider, info);
        await this.store.updateAttempt(job.id, attempt.idx, { stop_reason: "budget" });
        await t.writeFile(agentPaths().control, JSON.stringify({ action: "checkpoint-and-stop", reason: "budget" }));
      } else await this.endAttempt(job, task, attempt, "over_budget", `spent $${spent}`, provider);
    }
  }

  /** End the attempt and move the job, in one transaction; then end its instances. */
  private async endAttempt(
    job: JobRow,
    task: Task,
    attempt: AttemptRow,
    kind: AttemptEndKind,
    detail: string,
    provider: Provider,
    opts: { fatal?: boolean; immediate?: boolean } = {},
  ): Promise<void> {
    const now = this.now();
    let next = afterAttempt(kind, { preemptions: job.preemptions, error_restarts: job.error_restarts }, task, detail);
    const patch: Partial<JobRow> = { preemptions: next.counters.preemptions, error_restarts: next.counters.error_restarts };
    if (task.recovery.strategy === "failover" && (kind === "preempted" || kind === "lost")) {
      // The pool that just preempted us is blocked for block_zone_for; the walk moves on.
      const st = parseFailoverState((await this.store.job(job.id))?.policy_json ?? null);
      if (st.pending) patch.policy_json = JSON.stringify(recordFailover(st, { kind: "preempted", offer: st.pending, atMs: now }));
    }
    if (kind === "launch_failed") {
      patch.launch_failures = job.launch_failures + 1;
      patch.not_before = opts.immediate ? now : now + launchBackoffMs(job.launch_failures + 1);
      if (opts.fatal) next = { ...next, state: "FAILED", message: detail };
    }
    await this.store.transaction(async (tx) => {
      await tx.updateAttempt(job.id, attempt.idx, { state: "ENDED", ended_at: now, end_kind: kind, end_detail: detail });
      await this.event(job.id, { kind: "attempt_ended", attempt: attempt.idx, end: kind, ...(detail ? { detail } : {}) }, tx);
      await this.setState(tx, job, next.state, next.message, patch);
    });
    // Ending the old instances does not hold up the next attempt; the reaper covers a failure here.
    this.background(this.terminateAttempt(job.id, attempt.idx, provider, kind));
  }

  private readonly pending = new Set<Promise<void>>();

  private background(p: Promise<void>): void {
    const tracked = p
      .catch((e) => this.o.logger.warn({ err: errorMessage(e) }, "background teardown failed; the reaper will retry"))
      .finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
  }

  private async terminateAttempt(jobId: string, idx: number, provider: Provider, reason: string): Promise<void> {
    const live = await this.store.instances({ jobId, attempt: idx, live: true });
    if (live.length === 0) return;
    await provider.terminate(live.map((r) => InstanceId(r.id)));
    for (const r of live) {
      await this.store.endInstance(r.id, this.now(), reason);
      await this.event(jobId, { kind: "instance_ended", attempt: idx, instance_id: r.id, reason });
      await this.transports
        .get(r.id)
        ?.close()
        .catch(() => {});
      this.transports.delete(r.id);
      this.nodeEvents.delete(r.id);
    }
  }

  private async cancel(job: JobRow, provider: Provider): Promise<void> {
    const attempt = job.attempt >= 0 ? await this.store.attempt(job.id, job.attempt) : undefined;
    await this.store.transaction(async (tx) => {
      if (attempt && attempt.state !== "ENDED") {
        await tx.updateAttempt(job.id, attempt.idx, {
          state: "ENDED",
          ended_at: this.now(),
          end_kind: "cancelled",
          end_detail: "cancelled by the user",
        });
        await this.event(job.id, { kind: "attempt_ended", attempt: attempt.idx, end: "cancelled" }, tx);
      }
      await this.setState(tx, job, "CANCELLED", "cancelled by the user");
    });
    if (attempt) await this.terminateAttempt(job.id, attempt.idx, provider, "cancelled");
  }

  /**
   * End every instance this store launched that no live attempt owns: leftovers of a controller
   * that died between a launch and its record, or of an attempt whose terminate failed.
   */
  async reap(activeJobs?: JobRow[]): Promise<string[]> {
    if (!this.storeTag) this.storeTag = await storeIdOf(this.store, this.o.home);
    const kinds = new Set<ProviderKind>(["local"]);
    for (const j of activeJobs ?? (await this.store.jobs({ active: true })))
      kinds.add((JSON.parse(j.task_json) as Task).resources.provider);
    const reaped: string[] = [];
    for (const kind of kinds) {
      const provider = await this.o.providers.get(kind).catch(() => undefined);
      if (!provider) continue;
      const found = await provider.list({ [TAG.managed]: this.storeTag }).catch(() => []);
      for (const i of found) {
        if (i.status === "terminated") continue;
        const jobId = i.tags[TAG.job];
        const idx = Number(i.tags[TAG.attempt]);
        const job = jobId ? await this.store.job(jobId) : undefined;
        const attempt = job ? await this.store.attempt(job.id, idx) : undefined;
        const live = job && !isTerminal(job.state as JobState);
        // The current attempt's machines, or a pre-launched spare for the next one.
        const owned = live && ((job.attempt === idx && attempt && attempt.state !== "ENDED") || job.attempt + 1 === idx);
        if (owned) continue;
        await provider.terminate([i.id]);
        reaped.push(i.id);
        if (job) {
          await this.store.endInstance(i.id, this.now(), "reaped");
          await this.event(job.id, { kind: "reaped", instance_id: i.id, reason: `attempt ${idx} is not live` });
        }
      }
    }
    return reaped;
  }
}

/** The job's record of how one node was bootstrapped: which Node, which agent hash, and the time each took. */
function bootstrapEvent(attempt: number, node: number, r: BootstrapReport): JobEvent {
  return {
    kind: "bootstrapped",
    attempt,
    node,
    instance_id: r.instanceId,
    node_source: r.node.source,
    node_version: r.node.version,
    node_ms: r.node.ms,
    node_bytes: r.node.bytes,
    ...(r.node.detail ? { node_detail: r.node.detail } : {}),
    agent_sha256: r.agent.sha256,
    agent_bytes: r.agent.bytes,
    agent_uploaded: r.agent.uploaded,
    agent_ms: r.agent.ms,
    workdir_ms: r.workdirMs,
    start_ms: r.startMs,
    total_ms: r.totalMs,
  };
}
