import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { errorMessage } from "../base/errors.js";
import { isAlive } from "../base/process.js";
import { summarize } from "../cost/ledger.js";
import type { Task } from "../spec/task-schema.js";
import type { JobRow } from "../state/state-store.js";
import { isTransientStoreError } from "../state/store-errors.js";
import type { ControllerOptions } from "./controller-options.js";
import { InstanceObserver } from "./instance-observer.js";
import { InterruptionHistory } from "./interruption-history.js";
import { JobRecorder } from "./job-recorder.js";
import { isTerminal } from "./job-state.js";
import { LEASE, SHARED_LEASE_PREFIX } from "./lease-names.js";
import { AgentEventsReconciler } from "./reconcilers/agent-events.js";
import { BootstrapReconciler } from "./reconcilers/bootstrap.js";
import { BudgetReconciler } from "./reconcilers/budget.js";
import { DeadlineReconciler } from "./reconcilers/deadline.js";
import type { JobContext, ReconcilerDeps } from "./reconcilers/deps.js";
import { HealthReconciler } from "./reconcilers/health.js";
import { LaunchReconciler } from "./reconcilers/launch.js";
import { Reaper } from "./reconcilers/reaper.js";
import { ReplaceReconciler } from "./reconcilers/replace.js";
import { Supervisor } from "./reconcilers/supervise.js";
import { Teardown } from "./reconcilers/teardown.js";
import { VisitFailures } from "./reconcilers/visit-failures.js";
import { storeIdOf } from "./store-id.js";
import { TransportPool } from "./transport-pool.js";

export type { ControllerCompanion, ControllerOptions } from "./controller-options.js";
export { LEASE, SHARED_LEASE_PREFIX } from "./lease-names.js";
export { storeId, storeIdOf } from "./store-id.js";

/**
 * The reconcile loop: one per state store (held by a lease), one timer for all jobs. It owns the
 * lease, the queue of jobs, how many visits run at once and each job's next visit; what a visit
 * does is the reconcilers' (src/core/reconcilers), one per concern. Every step is recorded before
 * or after its side effect in a way that a restarted controller can repeat safely (idempotency keys
 * on every launch, an agent that refuses to start twice, a reaper for what no live attempt owns).
 */
export class Controller {
  readonly owner = `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
  private readonly inflight = new Set<string>();
  private readonly nextVisit = new Map<string, number>();
  private lastReap = 0;
  private readonly tickMs: number;
  private readonly steadyPollMs: number;
  private readonly leaseTtlMs: number;
  private readonly reapEveryMs: number;
  private readonly maxConcurrentVisits: number;
  /** Set by the first `acquire` (reading it may need the database). */
  private storeTag = "";
  private readonly pending = new Set<Promise<void>>();
  private readonly transports = new TransportPool();
  private readonly deps: ReconcilerDeps;
  private readonly launch: LaunchReconciler;
  private readonly supervisor: Supervisor;
  private readonly teardown: Teardown;
  private readonly reaper: Reaper;
  private readonly jobScoped: { forgetJob(jobId: string): void }[];
  private readonly failures: VisitFailures;
  private readonly agentEvents: AgentEventsReconciler;
  private readonly replace: ReplaceReconciler;

  constructor(private readonly o: ControllerOptions) {
    this.tickMs = o.tickMs ?? 100;
    this.steadyPollMs = o.steadyPollMs ?? 5000;
    this.leaseTtlMs = o.leaseTtlMs ?? 15_000;
    this.reapEveryMs = o.reapEveryMs ?? 10_000;
    this.maxConcurrentVisits = o.maxConcurrentVisits ?? 32;
    const observer = new InstanceObserver({
      clock: o.clock,
      logger: o.logger,
      storeTag: () => this.storeTag,
      onChange: (jobId) => this.nextVisit.delete(jobId),
    });
    this.deps = {
      store: o.store,
      clock: o.clock,
      logger: o.logger,
      home: o.home,
      recorder: new JobRecorder(o.store, o.clock),
      transports: this.transports,
      observer,
      storeTag: () => this.storeTag,
      wake: (jobId) => this.wake(jobId),
      background: (p) => this.background(p),
    };
    const jobCost = async (jobId: string) => summarize(await o.store.instances({ jobId }), o.clock.now()).cost_usd;
    const history = new InterruptionHistory(o.store, () => o.clock.now(), o.interruptionHistory);
    this.teardown = new Teardown(this.deps);
    const deadline = new DeadlineReconciler(this.deps, this.teardown);
    const bootstrap = new BootstrapReconciler(this.deps, this.teardown);
    const replace = new ReplaceReconciler(this.deps, bootstrap, (jobId, idx) => this.launch.prelaunchedFor(jobId, idx));
    this.replace = replace;
    this.launch = new LaunchReconciler(this.deps, this.teardown, deadline, history, jobCost, {
      market: (jobId, idx) => replace.market(jobId, idx),
      instances: (jobId, idx) => replace.instances(jobId, idx),
    });
    const agentEvents = new AgentEventsReconciler(
      this.deps,
      this.teardown,
      (ctx, attempt) => this.launch.prelaunch(ctx, attempt),
      (ctx, attempt) => replace.onNotice(ctx, attempt),
    );
    const health = new HealthReconciler(this.deps, this.teardown, o.heartbeatTimeoutMs ?? 60_000, (id) =>
      agentEvents.agentBeat(id),
    );
    const budget = new BudgetReconciler(this.deps, this.teardown, jobCost);
    this.teardown.register(bootstrap);
    this.teardown.register(health);
    this.teardown.register(agentEvents);
    this.agentEvents = agentEvents;
    this.supervisor = new Supervisor(this.deps, {
      teardown: this.teardown,
      bootstrap,
      agentEvents,
      health,
      deadline,
      budget,
      replace,
    });
    this.reaper = new Reaper(this.deps, this.teardown, o.providers);
    this.jobScoped = [deadline, this.launch, health, agentEvents, replace];
    this.failures = new VisitFailures(this.deps, this.teardown, o.providers);
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
    await this.agentEvents.closeAll();
    await this.transports.closeAll();
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

  private background(p: Promise<void>): void {
    const tracked = p
      .catch((e) => this.o.logger.warn({ err: errorMessage(e) }, "background teardown failed; the reaper will retry"))
      .finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
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

  /** Jobs woken while a visit of theirs was under way: that visit must not push the next one back. */
  private readonly woken = new Set<string>();

  private wake(jobId: string): void {
    this.nextVisit.delete(jobId);
    if (this.inflight.has(jobId)) this.woken.add(jobId);
  }

  private held = new Set<string>();
  private lastClaim = Number.NEGATIVE_INFINITY;

  /** Renew our jobs' leases and take free ones; a job newly held says so in its events. */
  private async claim(now: number): Promise<string[]> {
    this.lastClaim = now;
    const ids = await this.store.claimJobs(this.owner, now, now + this.leaseTtlMs, this.o.maxJobs ?? 1_000_000);
    for (const id of ids) if (!this.held.has(id)) await this.deps.recorder.event(id, { kind: "leased", controller: this.owner });
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
    const job = await this.store.job(id).catch(() => undefined);
    if (!job || isTerminal(job.state)) return this.forgetJob(id);
    await this.visit(job);
  }

  /** A job that has ended (or left this controller): every reconciler lets go of its state. */
  private forgetJob(id: string): void {
    this.nextVisit.delete(id);
    this.woken.delete(id);
    this.failures.succeeded(id);
    for (const r of this.jobScoped) r.forgetJob(id);
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
      this.failures.succeeded(job.id);
      if (isTerminal(job.state)) this.forgetJob(job.id);
      else {
        const woken = this.woken.delete(job.id);
        this.nextVisit.set(job.id, this.now() + (steady && !woken ? this.steadyPollMs : 0));
      }
    } catch (e) {
      const next = await this.failures.failed(job, e);
      if (next === "forget") this.forgetJob(job.id);
      else this.nextVisit.set(job.id, next);
    }
  }

  private launches = 0;

  /**
   * Launches wait on the provider's call budget (EC2 allows a few RunInstances a second): a
   * quarter of the visit slots at most, so a thousand jobs waiting to launch never starve the
   * bootstraps and agents of those already launched. A job over the limit is simply visited again.
   */
  private async launching(launch: () => Promise<void>): Promise<void> {
    if (this.launches >= Math.max(1, Math.floor(this.maxConcurrentVisits / 4))) return;
    this.launches++;
    try {
      await launch();
    } finally {
      this.launches--;
    }
  }

  /** Returns true when the job is in a steady state (visit it less often). */
  private async reconcile(job: JobRow): Promise<boolean> {
    const task = JSON.parse(job.task_json) as Task;
    const provider = await this.o.providers.get(task.resources.provider);
    const ctx: JobContext = { job, task, provider };
    if (job.desired === "cancel") {
      await this.teardown.cancel(ctx);
      return false;
    }
    switch (job.state) {
      case "PENDING":
      case "RECOVERING":
        // A warm replacement a killed controller left for the next attempt is that attempt's.
        if (job.state === "RECOVERING") await this.replace.resume(ctx, job.attempt + 1, false);
        await this.launching(() => this.launch.startAttempt(ctx));
        return false;
      case "PROVISIONING":
        await this.replace.resume(ctx, job.attempt, false);
        await this.launching(() => this.launch.provision(ctx));
        return false;
      case "SETTING_UP":
      case "RUNNING":
        return this.supervisor.supervise(ctx);
      default:
        return true;
    }
  }

  /** See Reaper: what no live attempt owns is ended, and the store is settled with the provider. */
  async reap(activeJobs?: JobRow[]): Promise<string[]> {
    if (!this.storeTag) this.storeTag = await storeIdOf(this.store, this.o.home);
    return this.reaper.reap(activeJobs);
  }
}
