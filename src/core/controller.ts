import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { errorMessage } from "../base/errors.js";
import type { JobId } from "../base/ids.js";
import { isAlive } from "../base/process.js";
import type { JobRow } from "../state/state-store.js";
import { isTransientStoreError } from "../state/store-errors.js";
import type { ControllerOptions } from "./controller-options.js";
import { InstanceObserver } from "./instance-observer.js";
import { JobReconciler } from "./job-reconciler.js";
import { JobRecorder } from "./job-recorder.js";
import { isTerminal } from "./job-state.js";
import { LEASE, SHARED_LEASE_PREFIX } from "./lease-names.js";
import type { ReconcilerDeps } from "./reconcilers/deps.js";
import { storeIdOf } from "./store-id.js";
import { TransportPool } from "./transport-pool.js";
import { VisitQueue } from "./visit-queue.js";

/** A job in line for a launch slot is woken for it; if that wake is lost, it is visited after this. */
const LAUNCH_WAIT_FALLBACK_MS = 30_000;
/** How often the store is asked which jobs a cancel was asked for (they are woken: a quiet job's next visit may be 30 s off). */
const CANCEL_LOOK_MS = 1000;

export type { ControllerCompanion, ControllerOptions } from "./controller-options.js";
export { LEASE, SHARED_LEASE_PREFIX } from "./lease-names.js";
export { storeId, storeIdOf } from "./store-id.js";

/**
 * The reconcile loop: one per state store (held by a lease), one timer for all jobs. It owns the
 * lease and the passes over the active jobs; which job is visited when is the VisitQueue's
 * (visit-queue.ts), and what a visit does is the JobReconciler's (job-reconciler.ts: the
 * reconcilers of src/core/reconcilers, one per concern). Every step is recorded before
 * or after its side effect in a way that a restarted controller can repeat safely (idempotency keys
 * on every launch, an agent that refuses to start twice, a reaper for what no live attempt owns).
 */
export class Controller {
  readonly owner = `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
  private readonly visits: VisitQueue;
  private lastReap = 0;
  private readonly tickMs: number;
  private readonly leaseTtlMs: number;
  private readonly reapEveryMs: number;
  private readonly maxConcurrentVisits: number;
  /** Set by the first `acquire` (reading it may need the database). */
  private storeTag = "";
  private readonly pending = new Set<Promise<void>>();
  private readonly transports = new TransportPool();
  private readonly deps: ReconcilerDeps;
  private readonly jobs: JobReconciler;

  constructor(private readonly o: ControllerOptions) {
    this.tickMs = o.tickMs ?? 100;
    this.leaseTtlMs = o.leaseTtlMs ?? 15_000;
    this.reapEveryMs = o.reapEveryMs ?? 10_000;
    this.maxConcurrentVisits = o.maxConcurrentVisits ?? 32;
    this.visits = new VisitQueue({
      now: () => this.now(),
      maxConcurrent: this.maxConcurrentVisits,
      visit: (id) => this.visitId(id),
    });
    const observer = new InstanceObserver({
      clock: o.clock,
      logger: o.logger,
      storeTag: () => this.storeTag,
      onChange: (jobId) => this.visits.wake(jobId),
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
      wake: (jobId) => this.visits.wake(jobId),
      background: (p) => this.background(p),
    };
    this.jobs = new JobReconciler(this.deps, o, this.maxConcurrentVisits);
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
    await this.jobs.closeAll();
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
            this.visits.running === 0 &&
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
    for (let i = 0; i < 300 && this.visits.running > 0; i++) await new Promise((r) => setTimeout(r, 10));
    await Promise.all([...this.pending]);
  }

  private background(p: Promise<void>): void {
    const tracked = p
      .catch((e) => this.o.logger.warn({ err: errorMessage(e) }, "background teardown failed; the reaper will retry"))
      .finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
  }

  private lastLoad = Number.NEGATIVE_INFINITY;
  private lastCancelLook = Number.NEGATIVE_INFINITY;

  /**
   * One wake-up: when the current pass is through, start the next one from the active job ids
   * (not whole rows: each visit reads its own row fresh); keep a bounded number of visits running.
   * Visits chain into the next due job as they finish, so the loop's speed is that of the work, not
   * of the tick, and thousands of jobs never pile onto the store's connection at once.
   */
  async tick(): Promise<void> {
    const now = this.now();
    if (this.visits.passDone && now - this.lastLoad >= this.tickMs) {
      // A shared store: this pass's jobs are those leased to us (renewed here, once per pass).
      this.visits.startPass(this.store.shared ? await this.claim(now) : await this.store.activeJobIds());
      this.lastLoad = now;
    } else if (this.store.shared && now - this.lastClaim >= this.leaseTtlMs / 3) {
      // A pass longer than the lease must not let our jobs go to another controller mid-pass.
      await this.claim(now);
    }
    if (now - this.lastCancelLook >= CANCEL_LOOK_MS) {
      this.lastCancelLook = now;
      for (const id of await this.store.cancelRequestedIds()) this.visits.nudge(id);
    }
    this.visits.pump();
    if (now - this.lastReap >= this.reapEveryMs) {
      this.lastReap = now;
      await this.reap().catch((e) => this.o.logger.warn({ err: errorMessage(e) }, "reaper pass failed"));
    }
  }

  private held = new Set<JobId>();
  private lastClaim = Number.NEGATIVE_INFINITY;

  /** Renew our jobs' leases and take free ones; a job newly held says so in its events. */
  private async claim(now: number): Promise<JobId[]> {
    this.lastClaim = now;
    const ids = await this.store.claimJobs(this.owner, now, now + this.leaseTtlMs, this.o.maxJobs ?? 1_000_000);
    for (const id of ids) if (!this.held.has(id)) await this.deps.recorder.event(id, { kind: "leased", controller: this.owner });
    this.held = new Set(ids);
    return ids;
  }

  private async visitId(id: JobId): Promise<void> {
    const job = await this.store.job(id).catch(() => undefined);
    if (!job || isTerminal(job.state)) return this.forgetJob(id);
    await this.visit(job);
  }

  /** A job that has ended (or left this controller): every reconciler lets go of its state. */
  private forgetJob(id: JobId): void {
    this.visits.forget(id);
    this.jobs.forgetJob(id);
  }

  private async visit(job: JobRow): Promise<void> {
    try {
      let quietMs = await this.jobs.reconcile(job);
      // An attempt that just ended goes straight on to the next one: recovery time is lost work.
      for (let i = 0; i < 2 && job.state === "RECOVERING" && job.desired === "run" && job.not_before <= this.now(); i++) {
        const fresh = await this.store.job(job.id);
        if (!fresh) break;
        job = fresh;
        quietMs = await this.jobs.reconcile(job);
      }
      this.jobs.failures.succeeded(job.id);
      if (isTerminal(job.state)) this.forgetJob(job.id);
      else {
        // A job waiting for a launch slot is woken when one frees; the steady interval is its fallback.
        const next = this.jobs.waitsForLaunch(job.id) ? LAUNCH_WAIT_FALLBACK_MS : quietMs;
        this.visits.settle(job.id, this.now() + next);
      }
    } catch (e) {
      const next = await this.jobs.failures.failed(job, e);
      if (next === "forget") this.forgetJob(job.id);
      else this.visits.retryAt(job.id, next);
    }
  }

  /** See Reaper: what no live attempt owns is ended, and the store is settled with the provider. */
  async reap(activeJobs?: JobRow[]): Promise<string[]> {
    if (!this.storeTag) this.storeTag = await storeIdOf(this.store, this.o.home);
    return this.jobs.reap(activeJobs);
  }
}
