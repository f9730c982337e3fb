import type { Offer, RefusalKind } from "../providers/provider.js";
import type { RecoverySpec } from "../spec/task-schema.js";
import { capacityPool, onDemandVariant } from "./on-demand-variant.js";
import type { Choice } from "./policy.js";

/**
 * Where the next attempt goes after a preemption or a refused launch, for each
 * `recovery.strategy`. Pure: the controller passes the job's placement history (kept as JSON in
 * its database) and the ranked offers; the simulator passes the same from a trace.
 */
export type PlacementEvent =
  | { kind: "launched"; atMs: number; offer: Offer }
  | { kind: "preempted"; atMs: number; offer: Offer }
  | { kind: "refused"; atMs: number; offer: Offer; refusal: RefusalKind };

export type PlacementChoice =
  | { kind: "launch"; offer: Offer; spot: boolean; reason: string }
  /** Nothing to launch now; `untilMs` when a block lifts (absent: decide again next tick). */
  | { kind: "wait"; untilMs?: number; reason: string };

export type RecoveryConfig = Pick<RecoverySpec, "strategy" | "on_demand_after" | "window" | "block_zone_for">;

export interface PlacementInput {
  history: readonly PlacementEvent[];
  /** Best first (see rank-offers.ts); may mix spot and on-demand offers. */
  offers: readonly Offer[];
  recovery: RecoveryConfig;
  nowMs: number;
  /** For `deadline`: the market the deadline policy chose for this tick. */
  market?: Choice;
}

const lastLaunched = (h: readonly PlacementEvent[]): Offer | undefined => h.findLast((e) => e.kind === "launched")?.offer;

/**
 * When each offer becomes usable again: a spot offer is blocked for `block_zone_for` after a
 * preemption or capacity refusal in its capacity pool (its type in its zone, likely still short),
 * any offer after a refusal of that very offer (price, quota).
 */
export function offerBlockedUntil(offer: Offer, input: Omit<PlacementInput, "offers">): number {
  let until = Number.NEGATIVE_INFINITY;
  // Never retried within the same instant, even with block_zone_for 0.
  const hold = Math.max(1, input.recovery.block_zone_for);
  for (const e of input.history) {
    if (e.kind === "launched") continue;
    const sameZone =
      offer.spot &&
      e.offer.spot &&
      capacityPool(e.offer) === capacityPool(offer) &&
      (e.kind === "preempted" || e.refusal === "capacity");
    if (sameZone || e.offer.id === offer.id) until = Math.max(until, e.atMs + hold);
  }
  return until;
}

function walk(input: PlacementInput, offers: readonly Offer[], why: string): PlacementChoice {
  let soonest = Number.POSITIVE_INFINITY;
  let skipped = 0;
  for (const offer of offers) {
    const until = offerBlockedUntil(offer, input);
    if (until <= input.nowMs) {
      const note = skipped ? ` after skipping ${skipped} blocked offer${skipped > 1 ? "s" : ""}` : "";
      return { kind: "launch", offer, spot: offer.spot, reason: `${why}: ${describe(offer)}${note}` };
    }
    soonest = Math.min(soonest, until);
    skipped++;
  }
  if (!Number.isFinite(soonest)) return { kind: "wait", reason: `${why}: no offers` };
  return { kind: "wait", untilMs: soonest, reason: `${why}: every offer is blocked after recent preemptions or refusals` };
}

const describe = (o: Offer): string =>
  `${o.spot ? "spot" : "on-demand"} ${o.instanceType} in ${o.zone ?? o.region ?? o.provider} at $${o.pricePerHour.toFixed(2)}/h`;

function onDemandChoice(input: PlacementInput, why: string): PlacementChoice {
  const from = input.offers.find((o) => !o.spot) ?? lastLaunched(input.history) ?? input.offers[0];
  if (!from) return { kind: "wait", reason: `${why}: no offers` };
  const offer = onDemandVariant(from);
  return { kind: "launch", offer, spot: false, reason: `${why}: ${describe(offer)}` };
}

/** `same`: the offer of the last launch (of the market asked for, when given), else the best one. */
function sameChoice(input: PlacementInput): PlacementChoice {
  const wantSpot = input.market === undefined ? undefined : input.market === "spot";
  const fits = (o: Offer) => wantSpot === undefined || o.spot === wantSpot;
  const last = input.history.findLast((e) => e.kind === "launched" && fits(e.offer))?.offer;
  const offer = last ?? input.offers.find(fits);
  if (!offer) return { kind: "wait", reason: "same: no offers" };
  return { kind: "launch", offer, spot: offer.spot, reason: `same: ${last ? "retry" : "start on"} ${describe(offer)}` };
}

export function chooseNextPlacement(input: PlacementInput): PlacementChoice {
  const r = input.recovery;
  switch (r.strategy) {
    case "same":
      return sameChoice(input);
    case "failover":
      return walk(input, input.offers, "failover");
    case "on_demand_after": {
      const n = r.on_demand_after ?? 1;
      const from = r.window === undefined ? Number.NEGATIVE_INFINITY : input.nowMs - r.window;
      const recent = input.history.filter((e) => e.kind === "preempted" && e.atMs > from).length;
      if (recent >= n) return onDemandChoice(input, `on_demand_after: ${recent} preemption${recent > 1 ? "s" : ""} ≥ ${n}`);
      return sameChoice(input);
    }
    case "deadline": {
      if (input.market === undefined) throw new Error("chooseNextPlacement: strategy deadline needs the policy's market");
      if (input.market === "idle") return { kind: "wait", reason: "deadline: ahead of schedule, waiting for spot" };
      if (input.market === "on_demand") return onDemandChoice(input, "deadline: behind schedule");
      return walk(
        input,
        input.offers.filter((o) => o.spot),
        "deadline: on schedule",
      );
    }
  }
}
