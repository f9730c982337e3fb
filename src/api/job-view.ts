import { toIso } from "../base/clock.js";
import { summarize } from "../cost/ledger.js";
import type { AttemptRow, EventRow, InstanceRow, JobRow, StateStore } from "../state/state-store.js";
import { CHECKPOINT_EVENTS, checkpointHealthOf } from "./checkpoint-health.js";

/**
 * The JSON shape of a job in `status`, `run`, `cost` and the dashboard (snake_case, RFC 3339,
 * `_usd`). Attempts are numbered from 1 here, as people count them; the store keeps them from 0.
 */
export async function jobView(store: StateStore, job: JobRow, now: number) {
  const [attempts, instances, events] = await Promise.all([
    store.attempts(job.id),
    store.instances({ jobId: job.id }),
    store.eventsOfKind(job.id, CHECKPOINT_EVENTS),
  ]);
  return viewOf(job, { attempts, instances, events }, now, store.shared);
}

/**
 * The views of many jobs (`status`, `cost`, the dashboard) from three reads in all, not three per
 * job: a listing of a home with 1,000 finished jobs costs what one of ten does, plus the rows.
 */
export async function jobViews(store: StateStore, jobs: readonly JobRow[], now: number): Promise<JobView[]> {
  if (jobs.length === 0) return [];
  const ids = jobs.map((j) => j.id);
  const [attempts, instances, events] = await Promise.all([
    store.attemptsOfJobs(ids),
    store.instancesOfJobs(ids),
    store.eventsOfKindForJobs(ids, CHECKPOINT_EVENTS),
  ]);
  const byJob = <T extends { job_id: string }>(rows: T[]) => {
    const m = new Map<string, T[]>();
    for (const r of rows) {
      const list = m.get(r.job_id);
      if (list) list.push(r);
      else m.set(r.job_id, [r]);
    }
    return m;
  };
  const a = byJob(attempts);
  const i = byJob(instances);
  const e = byJob(events);
  return jobs.map((j) =>
    viewOf(j, { attempts: a.get(j.id) ?? [], instances: i.get(j.id) ?? [], events: e.get(j.id) ?? [] }, now, store.shared),
  );
}

/** A job's rows, each list in the order its one-job read gives it (attempts by idx, instances by launch, events by seq). */
interface JobRows {
  attempts: AttemptRow[];
  instances: InstanceRow[];
  events: EventRow[];
}

function viewOf(job: JobRow, { attempts, instances, events }: JobRows, now: number, shared: boolean) {
  const checkpoints = checkpointHealthOf(events);
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
    ...(shared ? { controller: job.lease_owner && (job.lease_expires_at ?? 0) > now ? job.lease_owner : null } : {}),
    current_attempt: current
      ? {
          attempt: current.idx,
          number: current.idx + 1,
          state: current.state,
          spot: current.spot,
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
export type JobView = ReturnType<typeof viewOf>;
