import { toIso } from "../base/clock.js";
import { summarize } from "../cost/ledger.js";
import type { JobRow, StateStore } from "../state/state-store.js";
import { checkpointHealth } from "./checkpoint-health.js";

/**
 * The JSON shape of a job in `status`, `run`, `cost` and the dashboard (snake_case, RFC 3339,
 * `_usd`). Attempts are numbered from 1 here, as people count them; the store keeps them from 0.
 */
export async function jobView(store: StateStore, job: JobRow, now: number) {
  const [attempts, instances, checkpoints] = await Promise.all([
    store.attempts(job.id),
    store.instances({ jobId: job.id }),
    checkpointHealth(store, job.id),
  ]);
  const cost = summarize(instances, now);
  const current = attempts[attempts.length - 1];
  const live = instances.filter((i) => i.attempt === current?.idx);
  const task = JSON.parse(job.task_json) as { resources?: { provider?: string; region?: string } };
  return {
    id: job.id,
    name: job.name,
    state: job.state,
    message: job.message,
    provider: task.resources?.provider ?? "local",
    region: task.resources?.region ?? null,
    created_at: toIso(job.created_at),
    submitted_at: toIso(job.created_at),
    ended_at: job.ended_at ? toIso(job.ended_at) : null,
    duration_seconds: Math.max(0, Math.round(((job.ended_at ?? now) - job.created_at) / 1000)),
    attempts: attempts.length,
    preemptions: job.preemptions,
    error_restarts: job.error_restarts,
    array_id: job.array_id,
    array_index: job.array_index,
    // On a team's shared store: the controller that holds the job now, if its lease has not run out.
    ...(store.shared ? { controller: job.lease_owner && (job.lease_expires_at ?? 0) > now ? job.lease_owner : null } : {}),
    current_attempt: current
      ? {
          attempt: current.idx,
          number: current.idx + 1,
          state: current.state,
          spot: current.spot === 1,
          instance_type: current.instance_type,
          instance_ids: live.map((i) => i.id),
          end: current.end_kind,
        }
      : null,
    checkpoint_store: job.store_url,
    checkpoints,
    ...cost,
  };
}
export type JobView = Awaited<ReturnType<typeof jobView>>;
