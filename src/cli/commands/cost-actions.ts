/** What `spotrun cost` does, imported only when it runs (its flags are defined in cost.ts). */
import { formatPct, formatUsd } from "../../cost/ledger.js";
import { openApp } from "../app.js";
import type { CommandContext, CommandResult } from "../command.js";
import { table } from "../output.js";

export async function cost(ctx: CommandContext, args: string[]): Promise<CommandResult> {
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
    return { data, human: await table(["JOB", "NAME", "STATE", "COST", "ON-DEMAND", "SAVED", "%"], rows) };
  } finally {
    await app.close();
  }
}
