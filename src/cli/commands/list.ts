import { toIso } from "../../base/clock.js";
import { formatDuration } from "../../base/duration.js";
import { formatUsd, instanceCost } from "../../cost/ledger.js";
import { openApp } from "../app.js";
import type { CommandSpec } from "../command.js";
import { table } from "../output.js";

export const listCommand: CommandSpec = {
  name: "list",
  summary: "List instances of managed jobs: spot marker, type, zone, price, age and cost so far",
  examples: ["spotrun list", "spotrun list --all --json"],
  options: (cmd) => cmd.option("-a, --all", "include instances that have ended"),
  async run(ctx, _args, opts) {
    const app = await openApp(ctx);
    try {
      const now = app.clock.now();
      const rows = await app.store.instances(opts.all ? {} : { live: true });
      const data = rows.map((r) => {
        const c = instanceCost(r, now);
        return {
          id: r.id,
          job_id: r.job_id,
          attempt: r.attempt,
          node: r.node,
          provider: r.provider,
          instance_type: r.instance_type,
          zone: r.zone,
          spot: r.spot === 1,
          price_usd_per_hour: r.price_per_hour,
          launched_at: toIso(r.launched_at),
          ended_at: r.ended_at ? toIso(r.ended_at) : null,
          end_reason: r.end_reason,
          age_seconds: Math.round(c.seconds),
          cost_usd: Math.round(c.cost * 1e6) / 1e6,
        };
      });
      const human = data.length
        ? table(
            ["INSTANCE", "JOB", "MARKET", "TYPE", "ZONE", "PRICE/H", "AGE", "COST", "STATE"],
            data.map((d) => [
              d.id,
              d.job_id,
              d.spot ? "spot ⚡" : "on-demand",
              d.instance_type,
              d.zone ?? "-",
              `$${d.price_usd_per_hour}`,
              formatDuration(d.age_seconds * 1000),
              formatUsd(d.cost_usd),
              d.ended_at ? `ended (${d.end_reason})` : "running",
            ]),
          )
        : "no instances";
      return { data: { instances: data }, human };
    } finally {
      await app.close();
    }
  },
};
