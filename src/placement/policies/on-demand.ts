import type { Decision, Observation, Policy, PolicyState } from "../policy.js";
import { remainingWorkMs } from "./slack.js";

/** The baseline every saving is measured against: on-demand from the start, one changeover, never late. */
export const onDemandPolicy: Policy = {
  name: "on-demand",
  summary: "on-demand from start to finish",
  decide(o: Observation, s: PolicyState): Decision {
    if (remainingWorkMs(o) <= 0) return { choice: "idle", state: s, rule: "done" };
    return { choice: "on_demand", state: s, rule: "always-on-demand" };
  },
};
