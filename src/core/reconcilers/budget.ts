import { agentPaths } from "../../agent/protocol.js";
import type { JobId } from "../../base/ids.js";
import type { InstanceInfo } from "../../providers/provider.js";
import type { AttemptRow } from "../../state/state-store.js";
import { budgetAction } from "../decide.js";
import type { JobContext, ReconcilerDeps } from "./deps.js";
import type { Teardown } from "./teardown.js";

/** `budget.max_cost`: warn at the threshold, then stop the job with a checkpoint when it is spent. */
export class BudgetReconciler {
  constructor(
    private readonly d: ReconcilerDeps,
    private readonly teardown: Teardown,
    private readonly jobCost: (jobId: JobId) => Promise<number>,
  ) {}

  async check(ctx: JobContext, attempt: AttemptRow, info: InstanceInfo | undefined): Promise<void> {
    const { job, task } = ctx;
    const max = task.budget.max_cost;
    if (max === undefined) return;
    const spent = await this.jobCost(job.id);
    const action = budgetAction(spent, max, job.budget_warned);
    if (action === "warn") {
      await this.d.store.transaction(async (tx) => {
        await tx.updateJob(job.id, { budget_warned: 1 });
        await this.d.recorder.event(job.id, { kind: "budget_warning", spent_usd: spent, max_cost_usd: max }, tx);
      });
      job.budget_warned = 1;
    } else if (action === "stop") {
      await this.d.store.transaction(async (tx) => {
        await tx.updateJob(job.id, { budget_warned: 2 });
        await this.d.recorder.event(job.id, { kind: "budget_exceeded", spent_usd: spent, max_cost_usd: max }, tx);
      });
      job.budget_warned = 2;
      if (info && attempt.agent_started) {
        const t = await this.d.transports.get(ctx.provider, info);
        await this.d.store.updateAttempt(job.id, attempt.idx, { stop_reason: "budget" });
        attempt.stop_reason = "budget";
        await t.writeFile(agentPaths().control, JSON.stringify({ action: "checkpoint-and-stop", reason: "budget" }));
      } else await this.teardown.endAttempt(ctx, attempt, "over_budget", `spent $${spent}`);
    }
  }
}
