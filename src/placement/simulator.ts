import { formatDuration } from "../base/duration.js";
import { usageError } from "../base/errors.js";
import type { Offer } from "../providers/provider.js";
import type { Trace } from "../spec/availability-trace.js";
import { onDemandVariant } from "./on-demand-variant.js";
import { type Choice, type Current, initialPolicyState, type PolicyName, type PolicyParams, policyFor } from "./policy.js";
import { chooseNextPlacement, offerBlockedUntil, type PlacementEvent, type RecoveryConfig } from "./recovery.js";

/**
 * Replays availability traces on a virtual clock through the same `decide` the controller calls.
 * Cost model (the paper's): a tick on spot costs the spot price, on on-demand the on-demand price,
 * idle nothing; every new instance (first start, recovery after a preemption, a switch between spot
 * and on-demand, a move to another zone) spends `restartOverheadMs` without progress, billed at
 * the new instance's price. A spot is preempted at the first tick its zone shows no capacity; the
 * work done until then is kept (spotrun checkpoints within the notice). The last tick is billed
 * only up to the moment the work completes.
 */
export interface CostModel {
  spotPricePerHour: number;
  onDemandPricePerHour: number;
  restartOverheadMs: number;
}

export interface SimulationInput {
  /** One trace per zone, best zone first; all with the same tick. */
  traces: readonly Trace[];
  policy: PolicyName;
  workMs: number;
  /** Relative to the job's start. */
  deadlineMs: number;
  cost: CostModel;
  /** Start this far into the traces (rounded down to a tick). */
  startOffsetMs?: number;
  /** How spot zones are picked after a preemption; default `same` for one trace, `failover` for several. */
  recovery?: RecoveryConfig & { strategy: "same" | "failover" };
  /**
   * A randomized policy's seed, and the price ratio a price-aware one starts from (default: the cost
   * model's on-demand ÷ spot price). A replay of a job passes the job's own.
   */
  policyParams?: PolicyParams;
  /** Keep one record per tick (for tick-by-tick comparison with a live controller). */
  keepTimeline?: boolean;
}

export interface TickRecord {
  atMs: number;
  choice: Choice;
  rule: string;
  zone?: string;
  preempted: boolean;
}

export interface SimulationResult {
  policy: PolicyName;
  costUsd: number;
  /** Undefined when the traces ended first. */
  finishedAfterMs: number | undefined;
  deadlineMet: boolean;
  preemptions: number;
  changeovers: number;
  spotMs: number;
  onDemandMs: number;
  timeline?: TickRecord[];
}

const HOUR = 3_600_000;

function checkInput(input: SimulationInput): { tickMs: number; startTick: number } {
  const first = input.traces[0];
  if (!first) throw usageError("no trace given", "pass --trace FILE");
  const tickMs = first.tickMs;
  for (const t of input.traces)
    if (t.tickMs !== tickMs)
      throw usageError(`traces ${first.name} and ${t.name} have different ticks`, "simulate zones from one collection together");
  if (new Set(input.traces.map((t) => t.name)).size !== input.traces.length)
    throw usageError("two traces have the same zone name", "give each zone's trace once");
  if (!(input.workMs > 0)) throw usageError("work must be more than zero", "pass --work, e.g. 48h");
  if (input.deadlineMs < input.workMs) throw usageError("the deadline is shorter than the work", "pass a later --deadline");
  const startTick = Math.floor((input.startOffsetMs ?? 0) / tickMs);
  const span = (Math.min(...input.traces.map((t) => t.available.length)) - startTick) * tickMs;
  if (span < input.deadlineMs)
    throw usageError(
      `trace ${first.name} covers ${formatDuration(Math.max(0, span))} from the start, less than the deadline ${formatDuration(input.deadlineMs)}`,
      "use a longer trace, an earlier start or a shorter --deadline",
    );
  return { tickMs, startTick };
}

/** One spot offer per zone, in the order given: the "ranked offers" failover walks. */
const zoneOffers = (traces: readonly Trace[], cost: CostModel): Offer[] =>
  traces.map((t) => ({
    provider: "local",
    id: t.name,
    instanceType: "trace",
    zone: t.name,
    spot: true,
    pricePerHour: cost.spotPricePerHour,
    onDemandPricePerHour: cost.onDemandPricePerHour,
  }));

export function simulate(input: SimulationInput): SimulationResult {
  const { tickMs, startTick } = checkInput(input);
  const recovery: RecoveryConfig = input.recovery ?? {
    strategy: input.traces.length > 1 ? "failover" : "same",
    block_zone_for: 1_800_000,
  };
  const offers = zoneOffers(input.traces, input.cost);
  const zoneIndex = new Map(input.traces.map((t, i) => [t.name, i]));
  const policy = policyFor(input.policy);
  const d = input.cost.restartOverheadMs;
  const history: PlacementEvent[] = [];
  const timeline: TickRecord[] = [];
  let state = initialPolicyState(input.policy, {
    priceRatio: input.cost.onDemandPricePerHour / input.cost.spotPricePerHour,
    ...input.policyParams,
  });
  let current: Current = "none";
  let zone: Offer | undefined;
  let sinceMs = 0;
  let overheadLeft = 0;
  let done = 0;
  const r: SimulationResult = {
    policy: input.policy,
    costUsd: 0,
    finishedAfterMs: undefined,
    deadlineMet: false,
    preemptions: 0,
    changeovers: 0,
    spotMs: 0,
    onDemandMs: 0,
  };
  const upAt = (o: Offer, tick: number) => input.traces[zoneIndex.get(o.id) as number]?.available[tick] === true;
  const obtainable = (o: Offer, tick: number, nowMs: number) =>
    upAt(o, tick) && offerBlockedUntil(o, { history, recovery, nowMs }) <= nowMs;
  const end = Math.min(...input.traces.map((t) => t.available.length));

  for (let tick = startTick; tick < end; tick++) {
    const nowMs = (tick - startTick) * tickMs;
    let preempted = false;
    if (current === "spot" && zone && !upAt(zone, tick)) {
      history.push({ kind: "preempted", atMs: nowMs, offer: zone });
      r.preemptions++;
      preempted = true;
      current = "none";
    }
    const spotAvailable = current === "spot" || spotObtainable(tick, nowMs);
    const decision = policy.decide(
      {
        nowMs,
        startMs: 0,
        deadlineMs: input.deadlineMs,
        workTotalMs: input.workMs,
        workDoneMs: done,
        restartOverheadMs: d,
        spotAvailable,
        current,
        currentSinceMs: sinceMs,
        stepMs: tickMs,
      },
      state,
    );
    state = decision.state;
    const choice = decision.choice;
    if (choice === "spot" && !spotAvailable) throw new Error(`policy ${input.policy} chose spot with none available (bug)`);
    if (choice !== current && !(choice === "idle" && current === "none")) {
      if (choice === "idle") current = "none";
      else {
        const next = choice === "spot" ? placeSpot(nowMs, tick) : onDemandVariant(offers[0] as Offer);
        zone = next;
        current = choice;
        sinceMs = nowMs;
        overheadLeft = d;
        r.changeovers++;
        history.push({ kind: "launched", atMs: nowMs, offer: next });
      }
    }
    if (input.keepTimeline)
      timeline.push({
        atMs: nowMs,
        choice,
        rule: decision.rule,
        preempted,
        ...(current === "spot" && zone ? { zone: zone.id } : {}),
      });
    if (current === "none") continue;
    const setup = Math.min(overheadLeft, tickMs);
    overheadLeft -= setup;
    const progress = Math.min(tickMs - setup, input.workMs - done);
    const used = setup + progress;
    done += progress;
    const price = current === "spot" ? input.cost.spotPricePerHour : input.cost.onDemandPricePerHour;
    r.costUsd += (price * used) / HOUR;
    if (current === "spot") r.spotMs += used;
    else r.onDemandMs += used;
    if (done >= input.workMs) {
      r.finishedAfterMs = nowMs + used;
      break;
    }
  }
  r.deadlineMet = r.finishedAfterMs !== undefined && r.finishedAfterMs <= input.deadlineMs;
  if (input.keepTimeline) r.timeline = timeline;
  return r;

  /** Whether the recovery strategy would find a spot with capacity this tick. */
  function spotObtainable(tick: number, nowMs: number): boolean {
    if (recovery.strategy !== "same") return offers.some((o) => obtainable(o, tick, nowMs));
    const pick = chooseNextPlacement({ history, offers, recovery, nowMs, market: "spot" });
    return pick.kind === "launch" && upAt(pick.offer, tick);
  }

  /** Walks the ranked zones as the controller would: a zone without capacity refuses and is blocked. */
  function placeSpot(nowMs: number, tick: number): Offer {
    for (let tries = 0; tries <= offers.length; tries++) {
      const pick = chooseNextPlacement({ history, offers, recovery, nowMs, market: "spot" });
      if (pick.kind !== "launch") break;
      if (upAt(pick.offer, tick)) return pick.offer;
      history.push({ kind: "refused", atMs: nowMs, offer: pick.offer, refusal: "capacity" });
    }
    throw new Error("simulate: no spot zone to launch in although one was available (bug)");
  }
}
