import type { AgentOutcome } from "../agent/protocol.js";
import type { Task } from "../spec/task-schema.js";
import type { JobState } from "./job-state.js";

/**
 * The controller's decisions as pure functions of what it knows; the reconciler only carries
 * them out and records them. Each is tested on its own.
 */

export interface Counters {
  preemptions: number;
  error_restarts: number;
}

export type AttemptEndKind =
  | "succeeded"
  | "preempted"
  | "user_error"
  | "setup_failed"
  | "lost"
  | "cancelled"
  | "over_budget"
  | "launch_failed"
  /** The deadline policy moved the job between spot and on-demand. */
  | "changeover";

export interface Transition {
  state: JobState;
  counters: Counters;
  message: string;
}

export function endKindOf(outcome: AgentOutcome, stopReason: string | undefined): AttemptEndKind {
  switch (outcome) {
    case "succeeded":
      return "succeeded";
    case "failed":
      return "user_error";
    case "setup_failed":
      return "setup_failed";
    case "preempted":
      return "preempted";
    case "stopped":
      return stopReason === "budget" ? "over_budget" : stopReason === "changeover" ? "changeover" : "cancelled";
    case "agent_error":
      return "lost";
  }
}

/** Where a job goes when its attempt ends this way. */
export function afterAttempt(end: AttemptEndKind, c: Counters, task: Task, detail = ""): Transition {
  const r = task.recovery;
  switch (end) {
    case "succeeded":
      return { state: "SUCCEEDED", counters: c, message: "run exited 0" };
    case "cancelled":
      return { state: "CANCELLED", counters: c, message: "cancelled" };
    case "over_budget":
      return {
        state: "OVER_BUDGET",
        counters: c,
        message:
          task.budget.max_cost !== undefined && !detail.startsWith("hourly")
            ? `budget of $${task.budget.max_cost} reached; final checkpoint kept`
            : `over budget: ${detail || "budget.max_hourly"}`,
      };
    case "preempted":
    case "lost": {
      const n = { ...c, preemptions: c.preemptions + 1 };
      if (n.preemptions > r.max_restarts)
        return {
          state: "FAILED",
          counters: n,
          message: `${end === "lost" ? "lost" : "preempted"} ${n.preemptions} times, more than recovery.max_restarts=${r.max_restarts}`,
        };
      return {
        state: "RECOVERING",
        counters: n,
        message:
          end === "lost"
            ? `instance lost${detail ? `: ${detail}` : ""}; recovering`
            : "preempted; recovering from the newest checkpoint",
      };
    }
    case "user_error":
    case "setup_failed": {
      const n = { ...c, error_restarts: c.error_restarts + 1 };
      const what = end === "setup_failed" ? "setup" : "run";
      if (n.error_restarts > r.max_restarts_on_errors)
        return {
          state: "FAILED",
          counters: n,
          message: `${what} failed${detail ? ` (${detail})` : ""}; recovery.max_restarts_on_errors=${r.max_restarts_on_errors}`,
        };
      return {
        state: "RECOVERING",
        counters: n,
        message: `${what} failed${detail ? ` (${detail})` : ""}; retry ${n.error_restarts} of ${r.max_restarts_on_errors}`,
      };
    }
    case "launch_failed":
      return { state: "RECOVERING", counters: c, message: detail || "launch failed; retrying" };
    case "changeover":
      return { state: "RECOVERING", counters: c, message: detail || "changing market to stay on schedule" };
  }
}

export interface LaunchPlan {
  spot: boolean;
  instanceTypes: string[];
  reason: string;
}

export interface PastAttempt {
  spot: boolean;
  endKind: string | null;
  endedAt: number | null;
}

/**
 * Spot or on-demand for the next attempt. `on_demand_after: N` moves to on-demand once N
 * preemptions fell within `window`; other strategies keep the task's market (placement
 * strategies that walk offers refine the type order).
 */
export function planLaunch(task: Task, past: PastAttempt[], now: number): LaunchPlan {
  const res = task.resources;
  const types = res.instance_types ?? (res.instance_type ? [res.instance_type] : defaultTypes(res.provider));
  if (!res.spot) return { spot: false, instanceTypes: types, reason: "resources.spot is false" };
  const r = task.recovery;
  if (r.strategy === "on_demand_after" && r.on_demand_after !== undefined) {
    const window = r.window ?? Number.POSITIVE_INFINITY;
    const recent = past.filter(
      (a) => a.spot && a.endKind === "preempted" && a.endedAt !== null && now - a.endedAt <= window,
    ).length;
    if (recent >= r.on_demand_after)
      return {
        spot: false,
        instanceTypes: types,
        reason: `${recent} preemptions within the window (on_demand_after: ${r.on_demand_after})`,
      };
  }
  return { spot: true, instanceTypes: types, reason: "spot" };
}

const defaultTypes = (provider: string): string[] => (provider === "local" ? ["local.small"] : []);

export type BudgetAction = "none" | "warn" | "stop";

/** 80 % of the budget warns once; reaching it stops the job with a final checkpoint. */
export function budgetAction(spent: number, maxCost: number | undefined, warned: number): BudgetAction {
  if (maxCost === undefined) return "none";
  if (spent >= maxCost) return warned >= 2 ? "none" : "stop";
  if (spent >= 0.8 * maxCost && warned < 1) return "warn";
  return "none";
}

/** Backoff before the next launch after a refusal: 2 s doubling to a minute. */
export const launchBackoffMs = (failures: number): number => Math.min(60_000, 2000 * 2 ** Math.max(0, failures - 1));
