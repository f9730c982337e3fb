import type { JobId } from "../base/ids.js";
import type { EventRow, StateStore } from "../state/state-store.js";

/** The fields of a `checkpoint_failed` event: which attempt's upload failed and the store's own reason. */
interface FailedUpload {
  attempt?: number;
  cause?: string;
}

/**
 * A job's checkpoints as its events tell them: how many generations went up and the newest, how
 * many uploads failed and the newest failure with its cause. `failing` is true while no upload has
 * succeeded since that failure: a preemption now would resume from an older generation, or none.
 */
export async function checkpointHealth(store: StateStore, jobId: JobId) {
  return checkpointHealthOf(await store.eventsOfKind(jobId, CHECKPOINT_EVENTS));
}

/** The events it is told from. */
export const CHECKPOINT_EVENTS = ["checkpoint_uploaded", "checkpoint_failed"] as const;

/** The same from a job's checkpoint events, oldest first (one read for many jobs in `status`). */
export function checkpointHealthOf(rows: readonly EventRow[]) {
  let uploaded = 0;
  let failed = 0;
  let last: { generation: string; at: string; seq: number } | null = null;
  let lastFailure: { attempt: number | null; cause: string; at: string; seq: number } | null = null;
  for (const r of rows) {
    const d = JSON.parse(r.data) as { generation?: string } & FailedUpload;
    const at = new Date(Number(r.at)).toISOString();
    if (r.kind === "checkpoint_uploaded") {
      uploaded++;
      last = { generation: String(d.generation), at, seq: r.seq };
    } else {
      failed++;
      lastFailure = { attempt: d.attempt ?? null, cause: d.cause ?? "unknown", at, seq: r.seq };
    }
  }
  return {
    uploaded,
    last_generation: last?.generation ?? null,
    last_uploaded_at: last?.at ?? null,
    failed,
    last_failure: lastFailure ? { attempt: lastFailure.attempt, cause: lastFailure.cause, at: lastFailure.at } : null,
    failing: lastFailure !== null && (last === null || lastFailure.seq > last.seq),
  };
}
export type CheckpointHealth = ReturnType<typeof checkpointHealthOf>;
