import { replacesOnNotice, type Task } from "../../spec/task-schema.js";
import type { NodesVerdict } from "./health-decisions.js";

/**
 * Whether a notice on this attempt readies a warm replacement, whose spot request is then counted
 * with the notice, in its transaction: a controller killed anywhere after leaves the count right
 * for the next one, which makes that request (`job.spot_requests - 1`) once, or takes over what it
 * made. Pure.
 */
export const replacementOnNotice = (task: Pick<Task, "recovery" | "resources">, attempt: { spot: boolean }): boolean =>
  replacesOnNotice(task) && attempt.spot;

/**
 * Where a warm replacement (recovery.replace_on_notice) stands: its launch in flight, its
 * instances starting, its agents being shipped, setup running on it, or set up and waiting for the
 * go.
 */
export type SparePhase = "launching" | "starting" | "bootstrapping" | "setting_up" | "ready";

/**
 * What the replacement's agents said last: nothing read yet, setting up, all waiting for the go,
 * one ended on its own notice (reclaimed), or one ended otherwise (setup failed).
 */
export type SpareAgents = "unknown" | "setting_up" | "waiting" | "reclaimed" | "exited";

export type SpareAction =
  | { kind: "wait" }
  /** Every instance runs: ship and start the agents (they set up and wait). */
  | { kind: "bootstrap" }
  /** Set up and waiting: the old trainer can stop now. */
  | { kind: "ready" }
  /**
   * It cannot serve: end its instances; the recovery launches afresh. `preempted`: its spot
   * capacity was reclaimed, a preemption of the job's like that of an attempt reclaimed in setup.
   */
  | { kind: "abandon"; reason: string; preempted: boolean };

/** The next step of a replacement, from its phase, its instances and its agents. Pure. */
export function decideSpare(o: {
  phase: SparePhase;
  nodes: NodesVerdict | undefined;
  agents: SpareAgents;
  /** The replacement is on spot. */
  spot: boolean;
}): SpareAction {
  if (o.phase === "launching" || o.phase === "bootstrapping") return { kind: "wait" };
  if (o.nodes?.kind === "failed") return { kind: "abandon", reason: o.nodes.what, preempted: false };
  if (o.nodes?.kind === "gone")
    return {
      kind: "abandon",
      reason: `instance ${o.nodes.info?.id ?? "?"} of the replacement ended before it was used`,
      preempted: o.nodes.info?.spot ?? o.spot,
    };
  if (o.phase === "starting") return o.nodes?.kind === "present" && o.nodes.running ? { kind: "bootstrap" } : { kind: "wait" };
  if (o.agents === "reclaimed")
    return { kind: "abandon", reason: "the replacement was reclaimed before the go (its own notice)", preempted: true };
  if (o.agents === "exited")
    return { kind: "abandon", reason: "the replacement's agent ended before the go (setup failed)", preempted: false };
  if (o.phase === "setting_up" && o.agents === "waiting") return { kind: "ready" };
  return { kind: "wait" };
}

export type Adoption =
  /** No replacement for this attempt: bootstrap as usual. */
  | { kind: "bootstrap" }
  /** The replacement is still on its way (launching, starting, being shipped): wait for it. */
  | { kind: "wait" }
  /** Tell its agents to go: they restore the newest generation and start. */
  | { kind: "go" }
  /** The attempt runs on other instances than the replacement's (another market): end the replacement, bootstrap as usual. */
  | { kind: "discard" };

/** What the recovery does with the attempt's warm replacement, if it has one. Pure. */
export function decideAdoption(
  spare: { phase: SparePhase; instanceIds: readonly string[] } | undefined,
  launched: readonly string[],
): Adoption {
  if (!spare) return { kind: "bootstrap" };
  if (spare.phase === "launching") return { kind: "wait" };
  const same = spare.instanceIds.length === launched.length && spare.instanceIds.every((id) => launched.includes(id));
  if (!same) return { kind: "discard" };
  if (spare.phase === "starting" || spare.phase === "bootstrapping") return { kind: "wait" };
  return { kind: "go" };
}

/** The replacement's agents, from each node's events so far (undefined: not read). Pure. */
export function spareAgents(perNode: readonly (readonly { kind: string; outcome?: string }[] | undefined)[]): SpareAgents {
  if (perNode.length === 0) return "unknown";
  const exits = perNode.flatMap((evs) => evs?.filter((e) => e.kind === "agent_exit") ?? []);
  if (exits.some((e) => e.outcome === "preempted")) return "reclaimed";
  if (exits.length > 0) return "exited";
  if (perNode.every((evs) => evs?.some((e) => e.kind === "waiting_for_go"))) return "waiting";
  if (perNode.some((evs) => evs === undefined)) return "unknown";
  return "setting_up";
}

export type Resume =
  /** Nothing to take over or to launch. */
  | { kind: "none" }
  /** Take over the replacement the last controller rented (it set up, or sets up, or waits for the go). */
  | { kind: "adopt" }
  /** Launch it now (the replacement's key adopts a launch left in flight). */
  | { kind: "launch" };

/**
 * A controller with no replacement of its own for attempt `idx` (it started after the notice on
 * `idx - 1` was applied: its predecessor was killed): `found` instances tagged for `idx` that no
 * attempt recorded are the replacement it left, and are taken over rather than rented again; when
 * none is found it is launched now (its key adopts a launch left in flight), its request counted
 * with the notice already: the recovery adopts it as it would have. Pure.
 */
export function decideResume(o: {
  /** The task replaces on the notice and the noticed attempt is on spot. */
  replaces: boolean;
  /** Attempt `idx - 1` had a notice. */
  noticed: boolean;
  /** Live instances tagged for attempt `idx` that no attempt recorded. */
  found: number;
  /** Instances recorded for attempt `idx` (it has its own already). */
  recorded: number;
  nodes: number;
}): Resume {
  if (!o.replaces || !o.noticed || o.recorded > 0) return { kind: "none" };
  return o.found === o.nodes ? { kind: "adopt" } : { kind: "launch" };
}
