import type { InstanceStatus } from "../provider.js";
import type { VastInstance } from "./wire.js";

/**
 * What one look at a Vast instance means. Vast has no on-instance interruption notice: an
 * interruptible instance that loses its machine to a higher bid (or an on-demand renter) is
 * stopped — `intended_status` stays "running" while `actual_status` goes to "exited" — and gets it
 * back when it wins again. So interruption is read here, from the control plane, by polling.
 */
export type VastCondition =
  | { kind: "starting"; actual: string | null }
  | { kind: "running" }
  /** Intended running, actually not: outbid (interruptible) or stopped by the host / machine offline. */
  | { kind: "interrupted"; reason: "outbid" | "host_stopped" | "host_offline"; actual: string }
  | { kind: "stopping" }
  | { kind: "stopped" }
  /** The container cannot run because its disk is full (see diskFull). */
  | { kind: "disk_full"; message: string }
  | { kind: "gone"; actual: string | null };

/** States before the container first runs: null until the machine reports, then created/loading. */
const STARTING = new Set(["created", "loading", "scheduling", "creating"]);
/** The CLI's "treat as gone" set for instances, minus `offline`, which is a machine that may return. */
const GONE = new Set(["destroyed", "terminated", "deleted"]);

/**
 * Vast sends no disk-full code: the Docker daemon's error text is passed through `status_msg`
 * (e.g. `Error response from daemon: … no space left on device`). This is the one place that
 * text is read; it says "disk_full" only on the kernel's own ENOSPC/EDQUOT wording.
 */
export function diskFull(statusMsg: string | null | undefined): boolean {
  return !!statusMsg && /no space left on device|disk quota exceeded/i.test(statusMsg);
}

export function classify(inst: VastInstance | undefined, isSpot: boolean): VastCondition {
  if (!inst) return { kind: "gone", actual: null };
  const actual = inst.actual_status ?? null;
  const intended = inst.intended_status ?? "running";
  if (actual !== null && GONE.has(actual)) return { kind: "gone", actual };
  if (diskFull(inst.status_msg) && actual !== "running") return { kind: "disk_full", message: String(inst.status_msg) };
  if (intended === "stopped") return actual === "running" ? { kind: "stopping" } : { kind: "stopped" };
  if (actual === "running") return { kind: "running" };
  if (actual === null || STARTING.has(actual)) return { kind: "starting", actual };
  if (actual === "offline") return { kind: "interrupted", reason: "host_offline", actual };
  return { kind: "interrupted", reason: isSpot ? "outbid" : "host_stopped", actual };
}

export function statusOf(c: VastCondition): InstanceStatus {
  switch (c.kind) {
    case "starting":
      return "pending";
    case "running":
      return "running";
    case "stopping":
      return "stopping";
    case "stopped":
    case "interrupted":
    case "disk_full":
      return "stopped";
    case "gone":
      return "terminated";
  }
}
