import type { Decision, Observation, Policy, PolicyState } from "../policy.js";
import { breaksSafetyNet, remainingWorkMs } from "./slack.js";

/**
 * Greedy, as defined in §3.4 of *Can't Be Late* (NSDI'24):
 * - spot whenever it is available, staying on a spot until it is preempted (Exploitation Rule);
 * - while no spot is available, wait idle: idling is free, on-demand is not;
 * - once waiting (or starting a spot) would leave less slack than one restart overhead at the next
 *   tick, switch to on-demand and stay there until the end (Safety Net Rule). It never returns to
 *   spot after that, even when spot comes back: one more changeover could make it late.
 */
export const greedyPolicy: Policy = {
  name: "greedy",
  summary: "spot while available, idle otherwise, on-demand for good once slack runs out",
  decide(o: Observation, s: PolicyState): Decision {
    if (remainingWorkMs(o) <= 0) return { choice: "idle", state: s, rule: "done" };
    if (s.lockedOnDemand) return { choice: "on_demand", state: s, rule: "safety-net" };
    const want = o.spotAvailable ? "spot" : "idle";
    if (breaksSafetyNet(o, want)) return { choice: "on_demand", state: { ...s, lockedOnDemand: true }, rule: "safety-net" };
    return { choice: want, state: s, rule: want === "spot" ? "exploit-spot" : "wait-for-spot" };
  },
};
