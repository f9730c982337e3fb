import { z } from "zod";
import { POLICY_NAMES, type PolicyState } from "../placement/policy.js";
import type { FailoverState } from "./failover-plan.js";
import type { TickDecision } from "./market-ticks.js";

/**
 * What a job row keeps in `policy_json`, one tagged union for the three shapes stored there:
 * - `failover`: the failover walk (`recovery.strategy: failover`, see failover-plan.ts);
 * - `deadline`: the deadline policy's state (`recovery.strategy: deadline`, see placement/policy.ts);
 * - `deadline_tick`: the same on a ticked market, with the decision kept for the tick (market-ticks.ts).
 * The fields stay flat beside `kind`, so rows written before the tag (no `kind`) read back by shape.
 * Every reader and writer of the column goes through `parseStoredPolicy` / `serializeStoredPolicy`.
 */
export type StoredPolicy =
  | ({ kind: "failover" } & FailoverState)
  | ({ kind: "deadline" } & PolicyState)
  | ({ kind: "deadline_tick" } & PolicyState & { decided: TickDecision });

const num = z.number().finite();
const offer = z.looseObject({
  provider: z.string(),
  id: z.string(),
  instanceType: z.string(),
  region: z.string().optional(),
  zone: z.string().optional(),
  spot: z.boolean(),
  pricePerHour: num,
  onDemandPricePerHour: num,
  interruptionRiskPerHour: num.optional(),
  detail: z.record(z.string(), z.unknown()).optional(),
});
const placementEvent = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("launched"), atMs: num, offer }),
  z.object({ kind: z.literal("preempted"), atMs: num, offer }),
  z.object({ kind: z.literal("refused"), atMs: num, offer, refusal: z.enum(["capacity", "price", "quota", "unsupported"]) }),
]);
const failover = z.object({ kind: z.literal("failover"), history: z.array(placementEvent), pending: offer.optional() });

const policyFields = {
  policy: z.enum(POLICY_NAMES),
  lockedOnDemand: z.boolean(),
  line: z.object({ atMs: num, workDoneMs: num }).optional(),
  random: z.object({ seed: num, state: num }).optional(),
  priceRatio: num.positive().optional(),
  injection: z.object({ untilMs: num, onDemandFromMs: num, onDemandUntilMs: num }).optional(),
  market: z.object({ up: z.boolean(), sinceMs: num, upRunsMs: z.array(num), downRunsMs: z.array(num) }).optional(),
};
const decided = z.object({ tick: num, choice: z.enum(["spot", "on_demand", "idle"]), rule: z.string() });
const deadline = z.object({ kind: z.literal("deadline"), ...policyFields });
const deadlineTick = z.object({ kind: z.literal("deadline_tick"), ...policyFields, decided });
const storedPolicy = z.discriminatedUnion("kind", [failover, deadline, deadlineTick]);

/** A row written before the tag: its kind is its shape (the walk has a history, a tick's state its decision). */
function kindOf(raw: Record<string, unknown>): StoredPolicy["kind"] | undefined {
  if ("history" in raw) return "failover";
  if ("decided" in raw) return "deadline_tick";
  if ("policy" in raw) return "deadline";
  return undefined;
}

/** `policy_json` does not hold a state this version can read: the job cannot go on from it. */
export class StoredPolicyError extends Error {
  constructor(jobId: string | undefined, detail: string) {
    super(`${jobId ? `job ${jobId}: ` : ""}policy_json is not a policy state this version of spotrun can read: ${detail}`);
    this.name = "StoredPolicyError";
  }
}

/** The column read back: undefined when empty; a malformed value throws StoredPolicyError. */
export function parseStoredPolicy(json: string | null, jobId?: string): StoredPolicy | undefined {
  if (json === null || json === "") return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (e) {
    throw new StoredPolicyError(jobId, `not JSON (${(e as Error).message})`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    throw new StoredPolicyError(jobId, `not an object: ${json.slice(0, 200)}`);
  const rec = raw as Record<string, unknown>;
  const tagged = "kind" in rec ? rec : { ...rec, kind: kindOf(rec) };
  const r = storedPolicy.safeParse(tagged);
  if (!r.success) throw new StoredPolicyError(jobId, `${z.prettifyError(r.error)} in ${json.slice(0, 200)}`);
  return r.data as StoredPolicy;
}

export const serializeStoredPolicy = (p: StoredPolicy): string => JSON.stringify(p);

/** The failover walk kept in the row (a fresh one when there is none yet). */
export function failoverStateOf(json: string | null, jobId?: string): FailoverState {
  const p = parseStoredPolicy(json, jobId);
  if (!p) return { history: [] };
  if (p.kind !== "failover") throw new StoredPolicyError(jobId, `a ${p.kind} state where a failover walk was expected`);
  const { kind: _, ...st } = p;
  return st;
}

/** The deadline policy's state kept in the row, and the tick's decision where one was kept. */
export function deadlineStateOf(
  json: string | null,
  jobId?: string,
): { state: PolicyState; decided: TickDecision | undefined } | undefined {
  const p = parseStoredPolicy(json, jobId);
  if (!p) return undefined;
  if (p.kind === "failover") throw new StoredPolicyError(jobId, "a failover walk where a deadline policy state was expected");
  if (p.kind === "deadline_tick") {
    const { kind: _, decided, ...state } = p;
    return { state, decided };
  }
  const { kind: _, ...state } = p;
  return { state, decided: undefined };
}

export const failoverPolicyJson = (st: FailoverState): string => serializeStoredPolicy({ kind: "failover", ...st });
export const deadlinePolicyJson = (state: PolicyState, decided?: TickDecision): string =>
  serializeStoredPolicy(decided ? { kind: "deadline_tick", ...state, decided } : { kind: "deadline", ...state });
