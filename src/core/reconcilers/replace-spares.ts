import type { JobId } from "../../base/ids.js";
import type { InstanceInfo, Provider } from "../../providers/provider.js";
import type { SparePhase } from "./replace-decisions.js";

/** A warm replacement for one attempt, from its launch until an attempt adopts it or it is given up. */
export interface Spare {
  jobId: JobId;
  /** The attempt it is for: the noticed attempt's next. */
  idx: number;
  phase: SparePhase;
  spot: boolean;
  instanceType: string;
  instances: InstanceInfo[];
  /** Set once the old trainer was asked to stop. */
  stopAsked: boolean;
  lastRead: number;
  provider: Provider;
  /** Its spot request's number among the job's, counted with the notice. */
  seq: number;
}

const keyOf = (jobId: string, idx: number) => `${jobId}:${idx}`;

/**
 * The warm replacements this controller holds, one per job and attempt, and the ones it launched
 * or looked for (settled): each is launched once, given up for good.
 */
export class SpareBook {
  private readonly spares = new Map<string, Spare>();
  private readonly settled = new Set<string>();

  get(jobId: string, idx: number): Spare | undefined {
    return this.spares.get(keyOf(jobId, idx));
  }

  /** This spare is still the one held for its attempt (not given up, its job not forgotten since). */
  holds(spare: Spare): boolean {
    return this.spares.get(keyOf(spare.jobId, spare.idx)) === spare;
  }

  add(spare: Spare): void {
    this.spares.set(keyOf(spare.jobId, spare.idx), spare);
  }

  /** No spare held for the attempt any more (adopted, or given up); it stays settled. */
  remove(jobId: string, idx: number): void {
    this.spares.delete(keyOf(jobId, idx));
  }

  /** A spare is held for the attempt, or one was launched or looked for already. */
  known(jobId: string, idx: number): boolean {
    const key = keyOf(jobId, idx);
    return this.spares.has(key) || this.settled.has(key);
  }

  settle(jobId: string, idx: number): void {
    this.settled.add(keyOf(jobId, idx));
  }

  unsettle(jobId: string, idx: number): void {
    this.settled.delete(keyOf(jobId, idx));
  }

  /** Nothing of the job's kept: neither its spares nor what was settled. */
  forgetJob(jobId: string): void {
    for (const k of this.settled) if (k.startsWith(`${jobId}:`)) this.settled.delete(k);
    for (const k of this.spares.keys()) if (k.startsWith(`${jobId}:`)) this.spares.delete(k);
  }
}
