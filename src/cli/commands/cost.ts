import { formatPct, formatUsd } from "../../cost/ledger.js";
import { openApp } from "../app.js";
import type { CommandSpec } from "../command.js";
import { table } from "../output.js";

export const costCommand: CommandSpec = {
  name: "cost [job]",
  summary: "What jobs cost, what on-demand would have cost, and the savings (per job, array and total)",
  examples: ["spotrun cost", "spotrun cost j-lx2k9f3a1b2c --json", "spotrun cost arr-lx2k9f3a1b2c"],
  async run(ctx, args) {
    const app = await openApp(ctx);
    try {
      const data = await app.cost(args[0]);
      const rows = data.jobs.map((v) => [
        v.id,
        v.name,
        v.state,
        formatUsd(v.cost_usd),
        formatUsd(v.on_demand_baseline_usd),
        formatUsd(v.savings_usd),
        formatPct(v.savings_pct),
      ]);
      const { total } = data;
      rows.push([
        "TOTAL",
        "",
        "",
        formatUsd(total.cost_usd),
        formatUsd(total.on_demand_baseline_usd),
        formatUsd(total.savings_usd),
        formatPct(total.savings_pct),
      ]);
      return { data, human: table(["JOB", "NAME", "STATE", "COST", "ON-DEMAND", "SAVED", "%"], rows) };
    } finally {
      await app.close();
    }
  },
};
