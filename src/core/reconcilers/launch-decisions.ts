import type { InstanceInfo } from "../../providers/provider.js";
import type { Task } from "../../spec/task-schema.js";

/** Launch refusals and failures in a row after which a job fails rather than keeps asking. */
export const MAX_LAUNCH_FAILURES = 10;

export type RefusalAction =
  /** Ask again at once for on-demand capacity in the same attempt. */
  | { kind: "fallback_on_demand" }
  /** End the attempt and walk on to the next offer at once (its pool is blocked for a while). */
  | { kind: "fail_over"; fatal: boolean }
  /** End the attempt; the next one backs off, or the job fails. */
  | { kind: "end"; fatal: boolean };

/** What a refused launch leads to. Pure. */
export function decideRefusal(o: {
  spot: boolean;
  fallbackOnDemand: boolean;
  deadlineSaysOnDemand: boolean;
  failingOver: boolean;
  firstAttempt: boolean;
  launchFailures: number;
}): RefusalAction {
  if (o.spot && (o.fallbackOnDemand || o.deadlineSaysOnDemand)) return { kind: "fallback_on_demand" };
  const exhausted = o.launchFailures + 1 > MAX_LAUNCH_FAILURES;
  if (o.failingOver) return { kind: "fail_over", fatal: exhausted };
  return { kind: "end", fatal: o.firstAttempt || exhausted };
}

/** The launched instances cost more per hour than the budget allows: the over-budget message, else undefined. Pure. */
export function overHourlyBudget(task: Task, instances: readonly InstanceInfo[]): string | undefined {
  const cap = task.budget.max_hourly;
  if (cap === undefined) return undefined;
  const hourly = instances.reduce((a, i) => a + i.pricePerHour, 0);
  return hourly > cap ? `hourly price $${hourly} is over budget.max_hourly $${cap}` : undefined;
}
