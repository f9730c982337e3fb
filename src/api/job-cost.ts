import { summarize } from "../cost/ledger.js";
import type { JobRow, StateStore } from "../state/state-store.js";
import { jobViews } from "./job-view.js";

/** What `spotrun cost --json` prints: each job's spend, its on-demand baseline and savings, and their total. */
export async function costDocument(store: StateStore, jobs: JobRow[], now: number) {
  const views = await jobViews(store, jobs, now);
  const total = summarize((await Promise.all(jobs.map((j) => store.instances({ jobId: j.id })))).flat(), now);
  return {
    jobs: views.map((v) => ({
      id: v.id,
      name: v.name,
      state: v.state,
      cost_usd: v.cost_usd,
      on_demand_baseline_usd: v.on_demand_baseline_usd,
      savings_usd: v.savings_usd,
      savings_pct: v.savings_pct,
      instance_seconds: v.instance_seconds,
    })),
    total,
  };
}
export type CostDocument = Awaited<ReturnType<typeof costDocument>>;
