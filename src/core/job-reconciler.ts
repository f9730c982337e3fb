import type { JobId } from "../base/ids.js";
import { summarize } from "../cost/ledger.js";
import { replacesOnNotice, type Task } from "../spec/task-schema.js";
import type { JobRow } from "../state/state-store.js";
import type { ControllerOptions } from "./controller-options.js";
import { InterruptionHistory } from "./interruption-history.js";
import { isTerminal } from "./job-state.js";
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

/** A steady job whose agent's channel is up is visited by the clock this often at most (default). */
export const QUIET_POLL_MS = 30_000;

/**
 * How long a job its visit found steady (RUNNING, no notice) may go unvisited when no news wakes
 * it. With its agent's channel up, news does wake it: the agent's events, a heartbeat whose agent
 * beat stands still, the channel going down (agent-feed.ts); the observer's listing, for an
 * instance reclaimed or gone; the pass, for a cancel. Such a job is visited only every
 * `quietPollMs` (at most half the heartbeat timeout, so the store's last heartbeat stays as fresh
 * as before). What a visit still does by the clock keeps the steady interval: the budget's spend
 * grows with time (budget.ts), the deadline policy reviews the market every decision interval
 * (deadline.ts), a multi-node job's nodes are read for their heartbeats (health.ts checkNodes);
 * and so does a job without a channel up (its news would not wake it). Pure.
 */
export function steadyVisitMs(o: {
  task: Task;
  channelUp: boolean;
  steadyPollMs: number;
  quietPollMs: number;
  heartbeatTimeoutMs: number;
}): number {
  const { task } = o;
  const byTheClock = task.budget.max_cost !== undefined || task.recovery.strategy === "deadline" || task.num_nodes > 1;
  if (!o.channelUp || byTheClock) return o.steadyPollMs;
  return Math.max(o.steadyPollMs, Math.min(o.quietPollMs, o.heartbeatTimeoutMs / 2));
}

/**
 * What a visit of one job does: the reconcilers wired together on the controller's dependencies,
 * and the dispatch from the job's state to the ones that act on it. The controller's loop
 * (controller.ts) decides which job is visited when; this decides what the visit does.
 */
export class JobReconciler {
  readonly teardown: Teardown;
  readonly failures: VisitFailures;
  private readonly launch: LaunchReconciler;
  private readonly supervisor: Supervisor;
  private readonly reaper: Reaper;
  private readonly agentEvents: AgentEventsReconciler;
  private readonly replace: ReplaceReconciler;
  private readonly jobScoped: { forgetJob(jobId: JobId): void }[];
  private readonly maxLaunches: number;
  private launches = 0;
  /** Jobs that found every launch slot taken, in the order they came: each freed slot wakes the first. */
  private readonly waitingToLaunch = new Set<JobId>();

  constructor(
    private readonly deps: ReconcilerDeps,
    private readonly o: Pick<
      ControllerOptions,
      "providers" | "heartbeatTimeoutMs" | "interruptionHistory" | "steadyPollMs" | "quietPollMs"
    >,
    maxConcurrentVisits: number,
  ) {
    const { store, clock } = deps;
    this.maxLaunches = Math.max(1, Math.floor(maxConcurrentVisits / 4));
    const jobCost = async (jobId: JobId) => summarize(await store.instances({ jobId }), clock.now()).cost_usd;
    const history = new InterruptionHistory(store, () => clock.now(), o.interruptionHistory);
    this.teardown = new Teardown(deps);
    const deadline = new DeadlineReconciler(deps, this.teardown);
    const bootstrap = new BootstrapReconciler(deps, this.teardown);
    const replace = new ReplaceReconciler(deps, bootstrap, (jobId, idx) => this.launch.prelaunchedFor(jobId, idx));
    this.replace = replace;
    this.launch = new LaunchReconciler(deps, this.teardown, deadline, history, jobCost, {
      market: (jobId, idx) => replace.market(jobId, idx),
      instances: (jobId, idx) => replace.instances(jobId, idx),
    });
    const agentEvents = new AgentEventsReconciler(
      deps,
      this.teardown,
      (ctx, attempt) => this.launch.prelaunch(ctx, attempt),
      (ctx, attempt) => replace.onNotice(ctx, attempt),
    );
    const health = new HealthReconciler(deps, this.teardown, o.heartbeatTimeoutMs ?? 60_000, (id) => agentEvents.agentBeat(id));
    const budget = new BudgetReconciler(deps, this.teardown, jobCost);
    this.teardown.register(bootstrap);
    this.teardown.register(health);
    this.teardown.register(agentEvents);
    this.agentEvents = agentEvents;
    this.supervisor = new Supervisor(deps, {
      teardown: this.teardown,
      bootstrap,
      agentEvents,
      health,
      deadline,
      budget,
      replace,
    });
    this.reaper = new Reaper(deps, this.teardown, o.providers);
    this.jobScoped = [deadline, this.launch, health, agentEvents, replace];
    this.failures = new VisitFailures(deps, this.teardown, o.providers);
  }

  /**
   * One pass of the job's reconcilers. Returns how long the job may go unvisited when no news
   * wakes it: 0 unless the pass found it steady, then its steady interval (see steadyVisitMs).
   */
  async reconcile(job: JobRow): Promise<number> {
    const task = JSON.parse(job.task_json) as Task;
    const provider = await this.o.providers.get(task.resources.provider);
    const ctx: JobContext = { job, task, provider };
    if (job.desired === "cancel") {
      await this.teardown.cancel(ctx);
      return 0;
    }
    const steady = await this.step(ctx);
    // Ended in this pass (done, failed, over budget): a spare readied for a next attempt goes too.
    if (isTerminal(job.state) && (replacesOnNotice(task) || task.recovery.prelaunch_on_rebalance))
      await this.teardown.endTagged(ctx);
    if (!steady) return 0;
    return steadyVisitMs({
      task,
      channelUp: this.agentEvents.channelUp(job.id, job.attempt),
      steadyPollMs: this.o.steadyPollMs ?? 5000,
      quietPollMs: this.o.quietPollMs ?? QUIET_POLL_MS,
      heartbeatTimeoutMs: this.o.heartbeatTimeoutMs ?? 60_000,
    });
  }

  private async step(ctx: JobContext): Promise<boolean> {
    const { job } = ctx;
    switch (job.state) {
      case "PENDING":
      case "RECOVERING":
        // A warm replacement a killed controller left for the next attempt is that attempt's.
        if (job.state === "RECOVERING") await this.replace.resume(ctx, job.attempt + 1);
        await this.launching(job.id, () => this.launch.startAttempt(ctx));
        return false;
      case "PROVISIONING":
        await this.replace.resume(ctx, job.attempt);
        await this.launching(job.id, () => this.launch.provision(ctx));
        return false;
      case "SETTING_UP":
      case "RUNNING":
        return this.supervisor.supervise(ctx);
      default:
        return true;
    }
  }

  /** A job that has ended (or left this controller): every reconciler lets go of its state. */
  forgetJob(id: JobId): void {
    this.waitingToLaunch.delete(id);
    this.failures.succeeded(id);
    for (const r of this.jobScoped) r.forgetJob(id);
  }

  /** See Reaper: what no live attempt owns is ended, and the store is settled with the provider. */
  reap(activeJobs?: JobRow[]): Promise<string[]> {
    return this.reaper.reap(activeJobs);
  }

  /** The agents' channels: closed when the controller lets go of the store. */
  closeAll(): Promise<void> {
    return this.agentEvents.closeAll();
  }

  /** Whether the job's last visit found no launch slot free: it waits to be woken for one, not visited every pass. */
  waitsForLaunch(jobId: JobId): boolean {
    return this.waitingToLaunch.has(jobId);
  }

  /**
   * Launches wait on the provider's call budget (EC2 allows a few RunInstances a second): a
   * quarter of the visit slots at most, so a thousand jobs waiting to launch never starve the
   * bootstraps and agents of those already launched. A job over the limit waits in line and is
   * woken when a slot frees: visiting 10,000 waiting jobs every pass only to find the slots taken
   * kept the loop busy (one core at 100%) and the launches slow.
   */
  private async launching(jobId: JobId, launch: () => Promise<void>): Promise<void> {
    this.waitingToLaunch.delete(jobId);
    if (this.launches >= this.maxLaunches) {
      this.waitingToLaunch.add(jobId);
      return;
    }
    this.launches++;
    try {
      await launch();
    } finally {
      this.launches--;
      const next = this.waitingToLaunch.values().next();
      if (!next.done) {
        this.waitingToLaunch.delete(next.value);
        this.deps.wake(next.value);
      }
    }
  }
}
