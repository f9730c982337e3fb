import { greedyPolicy } from "./policies/greedy.js";
import { onDemandPolicy } from "./policies/on-demand.js";
import { spotOnlyPolicy } from "./policies/spot-only.js";
import { uniformProgressPolicy } from "./policies/uniform-progress.js";

/**
 * The spot/on-demand decision, as a pure function the controller and the simulator both call once
 * per tick with what they measured. Nothing here reads a clock or a provider: the same inputs give
 * the same choice, so `spotrun simulate` replays exactly what a managed job would do.
 */

/** The instance a job holds at the start of a tick (after the market had its say: a preempted spot is `none`). */
export type Current = "spot" | "on_demand" | "none";
/** What to hold for the coming tick; `idle` terminates whatever runs (no changeover cost to stop). */
export type Choice = "spot" | "on_demand" | "idle";

export interface Observation {
  nowMs: number;
  startMs: number;
  deadlineMs: number;
  workTotalMs: number;
  /** Measured progress (from checkpoints or the trainer's progress file). */
  workDoneMs: number;
  /** Measured time from launching an instance to the job making progress again. */
  restartOverheadMs: number;
  /**
   * Whether a spot can be had this tick: the current spot is alive, or the market shows capacity.
   * A controller that only learns it by trying decides with `true`, and when the launch is refused
   * decides again with `false` from the state it had before (a decision's state is kept only
   * once the decision is acted on).
   */
  spotAvailable: boolean;
  current: Current;
  /** When the current instance was launched; with the overhead it says how much setup is still ahead. */
  currentSinceMs?: number;
  /** Time until the next decision: the tick of a trace, the controller's reconcile interval. */
  stepMs: number;
}

/** Serialisable (JSON) so the controller can keep it in its database between ticks. */
export interface PolicyState {
  policy: PolicyName;
  /** Set once the safety net fired: on-demand until the end (the paper's "stay on it until the end"). */
  lockedOnDemand: boolean;
  /** Uniform progress: where its line starts, once the deadline is tight enough to follow one. */
  line?: { atMs: number; workDoneMs: number };
}

export interface Decision {
  choice: Choice;
  state: PolicyState;
  /** Which rule decided, for events and `--debug`. */
  rule: string;
}

export interface Policy {
  name: PolicyName;
  summary: string;
  decide(obs: Observation, state: PolicyState): Decision;
}

export const POLICY_NAMES = ["greedy", "uniform-progress", "on-demand", "spot-only"] as const;
export type PolicyName = (typeof POLICY_NAMES)[number];

const POLICIES: Record<PolicyName, Policy> = {
  greedy: greedyPolicy,
  "uniform-progress": uniformProgressPolicy,
  "on-demand": onDemandPolicy,
  "spot-only": spotOnlyPolicy,
};

export const isPolicyName = (s: string): s is PolicyName => (POLICY_NAMES as readonly string[]).includes(s);
export const policyFor = (name: PolicyName): Policy => POLICIES[name];
export const initialPolicyState = (name: PolicyName): PolicyState => ({ policy: name, lockedOnDemand: false });

/** A state read back from the database; a row from another version or a typo fails loudly. */
export function parsePolicyState(raw: unknown): PolicyState {
  const r = raw as { policy?: unknown; lockedOnDemand?: unknown } | null;
  if (typeof r !== "object" || r === null || typeof r.lockedOnDemand !== "boolean")
    throw new Error(`not a policy state: ${JSON.stringify(raw)}`);
  if (typeof r.policy !== "string" || !isPolicyName(r.policy))
    throw new Error(`unknown policy ${JSON.stringify(r.policy)} in a stored policy state`);
  const line = (raw as { line?: { atMs?: unknown; workDoneMs?: unknown } }).line;
  if (line === undefined) return { policy: r.policy, lockedOnDemand: r.lockedOnDemand };
  if (typeof line?.atMs !== "number" || typeof line.workDoneMs !== "number")
    throw new Error(`not a progress line in a stored policy state: ${JSON.stringify(line)}`);
  return { policy: r.policy, lockedOnDemand: r.lockedOnDemand, line: { atMs: line.atMs, workDoneMs: line.workDoneMs } };
}

/** One tick's decision by name, for callers that keep only the state row. */
export function decide(obs: Observation, state: PolicyState): Decision {
  return POLICIES[state.policy].decide(obs, state);
}
