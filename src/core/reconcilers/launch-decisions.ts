import type { InstanceInfo, Offer, RefusalKind } from "../../providers/provider.js";
import type { Task } from "../../spec/task-schema.js";

export type RefusalAction =
  /** Ask again at once for on-demand capacity in the same attempt. */
  | { kind: "fallback_on_demand" }
  /** End the attempt and walk on to the next offer at once (its pool is blocked for a while). */
  | { kind: "fail_over"; fatal: boolean }
  /** End the attempt; the next one backs off, or the job fails. */
  | { kind: "end"; fatal: boolean };

/**
 * What a refused launch leads to, the same on every attempt (the first included): capacity and
 * price pass, so the task's recovery.max_launch_failures bounds the retries; a quota or a type
 * the provider does not offer will not, so it ends the job at once. Pure.
 */
export function decideRefusal(o: {
  spot: boolean;
  refusal: RefusalKind;
  fallbackOnDemand: boolean;
  deadlineSaysOnDemand: boolean;
  failingOver: boolean;
  launchFailures: number;
  maxLaunchFailures: number;
}): RefusalAction {
  if (o.spot && (o.fallbackOnDemand || o.deadlineSaysOnDemand)) return { kind: "fallback_on_demand" };
  const permanent = o.refusal === "quota" || o.refusal === "unsupported";
  const exhausted = permanent || o.launchFailures + 1 > o.maxLaunchFailures;
  if (o.failingOver) return { kind: "fail_over", fatal: exhausted };
  return { kind: "end", fatal: exhausted };
}

/** What to suggest with a refusal: the fields that would let the job get capacity. Pure. */
export function refusalFix(refusal: RefusalKind, spot: boolean, task: Task): string {
  if (refusal === "quota") return "raise the account's quota for this type, or choose another type or region";
  if (refusal === "unsupported") return "choose a type this provider offers in that region (spotrun offers)";
  const ideas = [
    ...(spot && !task.resources.fallback_on_demand ? ["set resources.fallback_on_demand: true"] : []),
    ...((task.resources.instance_types?.length ?? 0) < 2 ? ["list more resources.instance_types"] : []),
    ...(task.recovery.strategy !== "failover" ? ["use recovery.strategy: failover to walk other zones"] : []),
  ];
  return ideas.length ? ideas.join(", or ") : "try again later";
}

/** The launched instances cost more per hour than the budget allows: the over-budget message, else undefined. Pure. */
export function overHourlyBudget(task: Task, instances: readonly Pick<InstanceInfo, "pricePerHour">[]): string | undefined {
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
