import { isTerminalState, type JobRow, type StateStore } from "../state/state-store.js";

/** Which jobs a listing shows: `status`, the dashboard's jobs page. */
export interface JobFilter {
  /** Every job, however long ago it ended. */
  all?: boolean;
  /** Finished jobs that ended at or after this time (ms); active jobs are always shown. Default: 24 h ago. */
  sinceMs?: number;
  arrayId?: string;
  /** Upper-case state names; any of them. */
  states?: readonly string[];
  /** A substring of the job's name. */
  name?: string;
}

export const DEFAULT_FINISHED_WINDOW_MS = 24 * 3_600_000;

/** Whether a job passes the filter (pure: the same rule for the CLI and the dashboard). */
export function jobMatches(job: JobRow, f: JobFilter, now: number): boolean {
  if (f.arrayId && job.array_id !== f.arrayId) return false;
  if (f.states?.length && !f.states.includes(job.state)) return false;
  if (f.name && !job.name.includes(f.name)) return false;
  if (f.all || !isTerminalState(job.state)) return true;
  const since = f.sinceMs ?? now - DEFAULT_FINISHED_WINDOW_MS;
  return (job.ended_at ?? job.updated_at) >= since;
}

/** Jobs that pass the filter, newest first. */
export async function selectJobs(store: StateStore, f: JobFilter, now: number): Promise<JobRow[]> {
  const rows = await store.jobs(f.arrayId ? { arrayId: f.arrayId } : {});
  return rows.filter((j) => jobMatches(j, f, now));
}
