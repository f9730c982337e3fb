import type { AgentEvent } from "../../agent/protocol.js";
import type { InstanceInfo } from "../../providers/provider.js";
import type { AttemptEndKind } from "../decide.js";
import type { Sighting } from "../instance-observer.js";

/** What the provider's view of an attempt's nodes says. Pure. */
export type NodesVerdict =
  /** A fault another attempt on the same resources would hit again. */
  | { kind: "failed"; info: InstanceInfo; what: string }
  /** A node was reclaimed, terminated, or is not found any more. */
  | { kind: "gone"; info: InstanceInfo | undefined }
  /** Every node is known and none has gone; `running` says whether all of them run. */
  | { kind: "present"; running: boolean; nodes: InstanceInfo[] }
  /** A node the API does not show yet (eventual consistency): wait. */
  | { kind: "unknown" };

export function judgeNodes(sightings: readonly Sighting[]): NodesVerdict {
  const seen = sightings.flatMap((s) => (s.kind === "seen" ? [s.info] : []));
  const failed = seen.find((i) => i.failure);
  if (failed?.failure) {
    const what =
      failed.failure.kind === "disk_full"
        ? `disk full on ${failed.id} (${failed.failure.message}) — raise resources.disk`
        : failed.failure.message;
    return { kind: "failed", info: failed, what };
  }
  const down = seen.find((i) => i.status === "terminated" || i.interrupted);
  if (down) return { kind: "gone", info: down };
  if (sightings.some((s) => s.kind === "gone")) return { kind: "gone", info: undefined };
  if (seen.length < sightings.length) return { kind: "unknown" };
  return { kind: "present", running: seen.every((i) => i.status === "running"), nodes: seen };
}

/**
 * Which nodes a gone verdict lost: reclaimed, terminated, or not found any more (`ids` in the
 * sightings' order); and what is known of every node. Pure.
 */
export function lostNodes(
  ids: readonly string[],
  sightings: readonly Sighting[],
): { lost: string[]; seen: (InstanceInfo | undefined)[] } {
  const lost = sightings.flatMap((s, i) =>
    s.kind === "seen"
      ? s.info.status === "terminated" || s.info.interrupted
        ? [s.info.id]
        : []
      : s.kind === "gone"
        ? [ids[i] as string]
        : [],
  );
  return { lost, seen: sightings.map((s) => (s.kind === "seen" ? s.info : undefined)) };
}

/** Why an attempt whose instance went ended: a reclaim of spot is a preemption, anything else lost. Pure. */
export function goneEnd(info: InstanceInfo | undefined, attemptSpot: boolean): { kind: AttemptEndKind; reason: string } {
  const spot = info?.spot ?? attemptSpot;
  const reason = info?.interrupted?.reason ?? (info ? `instance ${info.id} ${info.status}` : "instance vanished");
  return { kind: spot ? "preempted" : "lost", reason };
}

/**
 * A secondary node's agent that ended on its own, and how that ends the attempt (undefined: it
 * did not, or it is node 0's to report). A reclaim reaches every node of a slice at once, and
 * whichever agent is read first says so: a preemption, not a lost node. Pure.
 */
export function nodeExitEnd(
  node: number,
  instanceId: string,
  exit: Extract<AgentEvent, { kind: "agent_exit" }>,
): { kind: AttemptEndKind; detail: string } | undefined {
  if (exit.outcome === "succeeded" || exit.outcome === "stopped") return undefined;
  const what = exit.outcome === "setup_failed" ? "setup" : exit.outcome === "failed" ? "run" : exit.outcome;
  const kind: AttemptEndKind =
    exit.outcome === "setup_failed"
      ? "setup_failed"
      : exit.outcome === "failed"
        ? "user_error"
        : exit.outcome === "preempted"
          ? "preempted"
          : "lost";
  return {
    kind,
    detail: `node ${node} (${instanceId}): ${what} ended${exit.exit_code != null ? ` with exit code ${exit.exit_code}` : ""}`,
  };
}

/** The agent's heartbeat file against the job's record: fresh, still within the timeout, or lost. Pure. */
export function judgeHeartbeat(o: {
  now: number;
  lastHeartbeat: number | null;
  beat: number;
  timeoutMs: number;
}): "not_due" | "fresh" | "waiting" | "lost" {
  const last = o.lastHeartbeat ?? o.now;
  if (o.now - last < o.timeoutMs / 2) return "not_due";
  if (Number.isFinite(o.beat) && o.now - o.beat < o.timeoutMs) return "fresh";
  return o.now - last >= o.timeoutMs ? "lost" : "waiting";
}

/** A node unreachable since `since` is lost once that has lasted `lossMs`. Pure. */
export const nodeLost = (now: number, since: number, lossMs: number): boolean => now - since >= lossMs;
