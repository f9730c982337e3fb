import { notFound } from "../../base/errors.js";
import { formatUsd, summarize } from "../../cost/ledger.js";
import { openApp } from "../app.js";
import type { CommandSpec } from "../command.js";
import { jobView } from "../job-view.js";
import { table } from "../output.js";

export const costCommand: CommandSpec = {
  name: "cost [job]",
  summary: "What jobs cost, what on-demand would have cost, and the savings (per job, array and total)",
  examples: ["spotrun cost", "spotrun cost j-lx2k9f3a1b2c --json", "spotrun cost arr-lx2k9f3a1b2c"],
  async run(ctx, args) {
    const app = await openApp(ctx);
    try {
      const now = app.clock.now();
      let jobs = await app.store.jobs();
      if (args[0]) {
        const arr = args[0].startsWith("arr-") ? await app.store.jobs({ arrayId: args[0] }) : [];
        const one = arr.length ? undefined : await app.store.findJob(args[0]);
        if (!arr.length && !one) throw notFound(`no job ${args[0]}`, "list jobs with `spotrun status --all`");
        jobs = arr.length ? arr : [one!];
      }
      const views = await Promise.all(jobs.map((j) => jobView(app.store, j, now)));
      const total = summarize((await Promise.all(jobs.map((j) => app.store.instances({ jobId: j.id })))).flat(), now);
      const rows = views.map((v) => [
        v.id,
        v.name,
        v.state,
        formatUsd(v.cost_usd),
        formatUsd(v.on_demand_baseline_usd),
        formatUsd(v.savings_usd),
        `${v.savings_pct}%`,
      ]);
      rows.push([
        "TOTAL",
        "",
        "",
        formatUsd(total.cost_usd),
        formatUsd(total.on_demand_baseline_usd),
        formatUsd(total.savings_usd),
        `${total.savings_pct}%`,
      ]);
      return {
        data: {
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
        },
        human: table(["JOB", "NAME", "STATE", "COST", "ON-DEMAND", "SAVED", "%"], rows),
      };
    } finally {
      await app.close();
    }
  },
};
