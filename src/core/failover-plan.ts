import { candidateOffers } from "../placement/candidate-offers.js";
import { ASSUMED_SPOT_RISK_PER_HOUR } from "../placement/interruption-rate.js";
import { type RiskHistory, rankOffers } from "../placement/rank-offers.js";
import { chooseNextPlacement, type PlacementEvent } from "../placement/recovery.js";
import type { Offer, Provider, RefusalKind } from "../providers/provider.js";
import type { Task } from "../spec/task-schema.js";

/**
 * `recovery.strategy: failover` for a managed job: the task's offers, ranked by expected cost to
 * finish (with the interruption rates this store measured, where it has enough of them), walked
 * past the capacity pools (type × zone) that just preempted or refused us. The
 * placement history lives in the job row (core/stored-policy.ts), so a restarted controller walks on where it was.
 */
export interface FailoverState {
  history: PlacementEvent[];
  /** The offer the current attempt launches on. */
  pending?: Offer;
}

export type FailoverPlan =
  | { kind: "launch"; offer: Offer; reason: string }
  | { kind: "wait"; untilMs: number | undefined; reason: string };

/** Ranking assumes an hour of work and a 3-minute restart when the task does not say more. */
const RANKING = { workMs: 3_600_000, restartOverheadMs: 180_000, assumedSpotRiskPerHour: ASSUMED_SPOT_RISK_PER_HOUR };

export async function planFailover(
  provider: Provider,
  task: Task,
  state: FailoverState,
  now: number,
  /** What the store measured of the offers' pools (the controller's cached read). */
  historyOf?: (offers: readonly Offer[]) => Promise<RiskHistory>,
): Promise<FailoverPlan> {
  const offers = candidateOffers(await provider.offers(task.resources), task.resources);
  const history = historyOf ? await historyOf(offers) : undefined;
  const ranked = rankOffers(offers, history ? { ...RANKING, history } : RANKING).map((r) => r.offer);
  const choice = chooseNextPlacement({ history: state.history, offers: ranked, recovery: task.recovery, nowMs: now });
  if (choice.kind === "wait") return { kind: "wait", untilMs: choice.untilMs, reason: choice.reason };
  return { kind: "launch", offer: choice.offer, reason: choice.reason };
}

export const recordFailover = (
  state: FailoverState,
  e:
    | { kind: "launched" | "preempted"; offer: Offer; atMs: number }
    | { kind: "refused"; offer: Offer; atMs: number; refusal: RefusalKind },
): FailoverState => ({
  ...state,
  // Only the recent past matters to the walk; keep the row small.
  history: [...state.history, e].slice(-50),
});
