import type { Decision, Observation, Policy, PolicyState } from "../policy.js";
import { remainingWorkMs } from "./slack.js";

/** Spot or nothing: the cheapest per hour and the only policy allowed to miss a deadline. */
export const spotOnlyPolicy: Policy = {
  name: "spot-only",
  summary: "spot while available, idle otherwise, never on-demand (may miss the deadline)",
  decide(o: Observation, s: PolicyState): Decision {
    if (remainingWorkMs(o) <= 0) return { choice: "idle", state: s, rule: "done" };
    return o.spotAvailable
      ? { choice: "spot", state: s, rule: "exploit-spot" }
      : { choice: "idle", state: s, rule: "wait-for-spot" };
  },
};
