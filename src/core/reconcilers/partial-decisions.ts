import type { JobState } from "../../state/job-states.js";
import type { AttemptEndKind } from "../decide.js";

/** An instance row as far as a partial recovery cares. */
export interface NodeRow {
  id: string;
  node: number;
  spot: boolean;
  instanceType: string;
  pricePerHour: number;
}

/**
 * Which of an ending attempt's live nodes the next attempt keeps (recovery.partial): the ones not
 * lost, when the job recovers from a preemption or a lost node and at least one node survives.
 * Anything else (a failure of the run, a job that stops, no survivor, nothing known to be lost)
 * moves the whole job. Pure.
 */
export function survivorsToKeep(o: {
  partial: boolean;
  numNodes: number;
  kind: AttemptEndKind;
  next: JobState;
  lost: readonly string[] | undefined;
  live: readonly NodeRow[];
}): NodeRow[] {
  if (!o.partial || o.numNodes < 2 || !o.lost || o.lost.length === 0) return [];
  if (o.kind !== "preempted" && o.kind !== "lost") return [];
  if (o.next !== "RECOVERING") return [];
  const keep = o.live.filter((r) => !o.lost?.includes(r.id));
  // Every node still live and none of them the lost one: the loss is not understood, move as one.
  if (keep.length === 0 || keep.length >= o.numNodes) return [];
  return keep;
}

/** The node indices the next attempt launches: those no kept instance holds, in order. Pure. */
export function nodesToLaunch(numNodes: number, keptNodes: readonly number[]): number[] {
  return Array.from({ length: numNodes }, (_, i) => i).filter((i) => !keptNodes.includes(i));
}

/**
 * Whether the kept nodes can serve the next attempt: the plan runs on their market and allows
 * their type. A plan that moved (to on-demand after too many preemptions, to another type) ends
 * them and launches the whole job. Pure.
 */
export function keptFitPlan(kept: readonly NodeRow[], plan: { spot: boolean; instanceTypes: readonly string[] }): boolean {
  return kept.every(
    (k) => k.spot === plan.spot && (plan.instanceTypes.length === 0 || plan.instanceTypes.includes(k.instanceType)),
  );
}
