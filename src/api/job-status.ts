import { LEASE, SHARED_LEASE_PREFIX } from "../core/lease-names.js";
import type { StateStore } from "../state/state-store.js";
import { type JobView, jobViews } from "./job-view.js";
import { type JobFilter, selectJobs } from "./select-jobs.js";

export interface ArraySummary {
  id: string;
  members: number;
  states: Record<string, number>;
  cost_usd: number;
}

/**
 * What `spotrun status --json` prints: the controller(s), the jobs the filter picks (by default the
 * active ones and those that finished in the last 24 h), and a line per job array among them.
 */
export async function statusDocument(store: StateStore, now: number, opts: JobFilter = {}) {
  const jobs = await selectJobs(store, opts, now);
  const views = await jobViews(store, jobs, now);
  const lease = await store.lease(LEASE);
  // A team's store is worked by several controllers, each under its own lease.
  const team = store.shared ? await store.liveLeases(SHARED_LEASE_PREFIX, now) : undefined;
  return {
    controller: lease
      ? { pid: lease.pid, host: lease.host, lease_expires_at: new Date(Number(lease.expires_at)).toISOString() }
      : null,
    ...(team ? { controllers: team.map((l) => ({ id: l.owner, pid: l.pid, host: l.host })) } : {}),
    jobs: views,
    arrays: summarizeArrays(views),
  };
}
export type StatusDocument = Awaited<ReturnType<typeof statusDocument>>;

export function summarizeArrays(views: JobView[]): ArraySummary[] {
  const arrays = new Map<string, ArraySummary>();
  for (const v of views) {
    if (!v.array_id) continue;
    const a = arrays.get(v.array_id) ?? { id: v.array_id, members: 0, states: {}, cost_usd: 0 };
    a.members++;
    a.states[v.state] = (a.states[v.state] ?? 0) + 1;
    a.cost_usd += v.cost_usd;
    arrays.set(v.array_id, a);
  }
  return [...arrays.values()].map((a) => ({ ...a, cost_usd: Math.round(a.cost_usd * 1e6) / 1e6 }));
}
