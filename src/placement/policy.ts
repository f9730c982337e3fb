import { adaptivePolicy, type MarketMemory } from "./policies/adaptive.js";
import { greedyPolicy } from "./policies/greedy.js";
import { onDemandPolicy } from "./policies/on-demand.js";
import { DEFAULT_PRICE_RATIO, rossPolicy } from "./policies/ross.js";
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
  /** Randomized policies: the seed they started from (what a replay needs) and the generator's state now. */
  random?: { seed: number; state: number };
  /** On-demand price ÷ spot price, fixed when the policy starts (ROSS's K). */
  priceRatio?: number;
  /** ROSS: its injection window and the on-demand block drawn in it, once the deadline got tight. */
  injection?: { untilMs: number; onDemandFromMs: number; onDemandUntilMs: number };
  /** Adaptive: the market's runs of spot capacity (and of none) seen so far. */
  market?: MarketMemory;
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

export const POLICY_NAMES = ["greedy", "uniform-progress", "ross", "adaptive", "on-demand", "spot-only"] as const;
export type PolicyName = (typeof POLICY_NAMES)[number];

const POLICIES: Record<PolicyName, Policy> = {
  greedy: greedyPolicy,
  "uniform-progress": uniformProgressPolicy,
  ross: rossPolicy,
  adaptive: adaptivePolicy,
  "on-demand": onDemandPolicy,
  "spot-only": spotOnlyPolicy,
};

export const isPolicyName = (s: string): s is PolicyName => (POLICY_NAMES as readonly string[]).includes(s);
export const policyFor = (name: PolicyName): Policy => POLICIES[name];
/** What a policy starts from; a randomized one also from a seed, a price-aware one from the price ratio. */
export interface PolicyParams {
  seed?: number;
  priceRatio?: number;
}

const RANDOMIZED: readonly PolicyName[] = ["ross"];
const PRICED: readonly PolicyName[] = ["ross", "adaptive"];

export function initialPolicyState(name: PolicyName, params: PolicyParams = {}): PolicyState {
  const s: PolicyState = { policy: name, lockedOnDemand: false };
  if (PRICED.includes(name)) s.priceRatio = params.priceRatio ?? DEFAULT_PRICE_RATIO;
  if (!RANDOMIZED.includes(name)) return s;
  const seed = (params.seed ?? 1) >>> 0;
  return { ...s, random: { seed, state: seed } };
}

/** A seed for a job's randomized policy, from its id: the same job always draws the same. */
export function seedFor(id: string): number {
  let h = 2_166_136_261;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 16_777_619);
  return h >>> 0;
}

const isNum = (x: unknown): x is number => typeof x === "number" && Number.isFinite(x);

/** A state read back from the database; a row from another version or a typo fails loudly. */
export function parsePolicyState(raw: unknown): PolicyState {
  const r = raw as Partial<Record<keyof PolicyState, unknown>> | null;
  if (typeof r !== "object" || r === null || typeof r.lockedOnDemand !== "boolean")
    throw new Error(`not a policy state: ${JSON.stringify(raw)}`);
  if (typeof r.policy !== "string" || !isPolicyName(r.policy))
    throw new Error(`unknown policy ${JSON.stringify(r.policy)} in a stored policy state`);
  const s: PolicyState = { policy: r.policy, lockedOnDemand: r.lockedOnDemand };
  const bad = (what: string, v: unknown) => new Error(`not ${what} in a stored policy state: ${JSON.stringify(v)}`);
  if (r.line !== undefined) {
    const l = r.line as { atMs?: unknown; workDoneMs?: unknown } | null;
    if (!isNum(l?.atMs) || !isNum(l.workDoneMs)) throw bad("a progress line", r.line);
    s.line = { atMs: l.atMs, workDoneMs: l.workDoneMs };
  }
  if (r.random !== undefined) {
    const g = r.random as { seed?: unknown; state?: unknown } | null;
    if (!isNum(g?.seed) || !isNum(g.state)) throw bad("a random generator", r.random);
    s.random = { seed: g.seed, state: g.state };
  }
  if (r.priceRatio !== undefined) {
    if (!isNum(r.priceRatio) || r.priceRatio <= 0) throw bad("a price ratio", r.priceRatio);
    s.priceRatio = r.priceRatio;
  }
  if (r.injection !== undefined) {
    const w = r.injection as { untilMs?: unknown; onDemandFromMs?: unknown; onDemandUntilMs?: unknown } | null;
    if (!isNum(w?.untilMs) || !isNum(w.onDemandFromMs) || !isNum(w.onDemandUntilMs))
      throw bad("an injection window", r.injection);
    s.injection = { untilMs: w.untilMs, onDemandFromMs: w.onDemandFromMs, onDemandUntilMs: w.onDemandUntilMs };
  }
  if (r.market !== undefined) {
    const m = r.market as Partial<Record<keyof MarketMemory, unknown>> | null;
    const runs = (x: unknown): x is number[] => Array.isArray(x) && x.every(isNum);
    if (typeof m?.up !== "boolean" || !isNum(m.sinceMs) || !runs(m.upRunsMs) || !runs(m.downRunsMs))
      throw bad("a market memory", r.market);
    s.market = { up: m.up, sinceMs: m.sinceMs, upRunsMs: m.upRunsMs, downRunsMs: m.downRunsMs };
  }
  return s;
}

/** One tick's decision by name, for callers that keep only the state row. */
export function decide(obs: Observation, state: PolicyState): Decision {
  return POLICIES[state.policy].decide(obs, state);
}

/** Whether the policy draws random numbers (its decisions depend on the seed it starts from). */
export const isRandomized = (name: PolicyName): boolean => RANDOMIZED.includes(name);
