import type { InstanceInfo, Offer } from "../../providers/provider.js";
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

/**
 * `budget.max_hourly` below every offer the attempt could rent: the job's message, else undefined
 * (no offer known, or one fits). Checked before renting, so nothing is paid for a launch the
 * budget then ends. Pure.
 */
export function hourlyBudgetRefuses(
  task: Task,
  offers: readonly Offer[],
  spot: boolean,
  types: readonly string[],
): string | undefined {
  const cap = task.budget.max_hourly;
  if (cap === undefined) return undefined;
  const fitting = offers.filter((o) => o.spot === spot && (types.length === 0 || types.includes(o.instanceType)));
  if (fitting.length === 0) return undefined;
  const cheapest = fitting.reduce((a, b) => (b.pricePerHour < a.pricePerHour ? b : a));
  const hourly = cheapest.pricePerHour * task.num_nodes;
  if (hourly <= cap) return undefined;
  const nodes = task.num_nodes > 1 ? ` for ${task.num_nodes} nodes` : "";
  return `budget.max_hourly $${cap} is below the cheapest ${spot ? "spot" : "on-demand"} offer, $${hourly.toFixed(4)}/h${nodes} (${cheapest.instanceType}) — raise budget.max_hourly or choose cheaper resources (spotrun offers --task FILE)`;
}
