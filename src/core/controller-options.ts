import type { Clock } from "../base/clock.js";
import type { Logger } from "../base/logger.js";
import type { ProviderCache } from "../providers/registry.js";
import type { StateStore } from "../state/state-store.js";
import type { InterruptionHistoryOptions } from "./interruption-history.js";

export interface ControllerOptions {
  store: StateStore;
  providers: ProviderCache;
  home: string;
  clock: Clock;
  logger: Logger;
  /** How often the loop wakes. */
  tickMs?: number;
  /**
   * How often a steadily running job is visited (its agent's news wakes it at once, so this is for
   * budgets and deadlines); jobs in transition are visited every tick.
   */
  steadyPollMs?: number;
  /**
   * How often a steadily running job whose agent's channel is up is visited (default 30 s, at most
   * half the heartbeat timeout): its news wakes it; see steadyVisitMs in job-reconciler.ts.
   */
  quietPollMs?: number;
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
