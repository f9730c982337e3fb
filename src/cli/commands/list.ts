import { toIso } from "../../base/clock.js";
import { formatDuration } from "../../base/duration.js";
import { usageError } from "../../base/errors.js";
import { formatUsd, instanceCost } from "../../cost/ledger.js";
import { PROVIDERS, type ProviderKind } from "../../spec/task-schema.js";
import { openApp } from "../app.js";
import type { CommandSpec } from "../command.js";
import { table } from "../output.js";
import { LAUNCH_TAG } from "./launch.js";

export const listCommand: CommandSpec = {
  name: "list",
  summary: "List instances of managed jobs: spot marker, type, zone, price, age and cost so far",
  examples: ["spotrun list", "spotrun list --all --json", "spotrun list --provider aws   # also instances from spotrun launch"],
  options: (cmd) =>
    cmd
      .option("-a, --all", "include instances that have ended")
      .option("--provider <kinds>", "also list instances made by `spotrun launch` on these providers (e.g. aws,local)"),
  async run(ctx, _args, opts) {
    const app = await openApp(ctx);
    try {
      const now = app.clock.now();
      const rows = await app.store.instances(opts.all ? {} : { live: true });
      // `spotrun launch` records nothing locally: its instances are found by their tag, at the provider.
      for (const kind of opts.provider ? String(opts.provider).split(",") : []) {
        if (!(PROVIDERS as readonly string[]).includes(kind))
          throw usageError(`--provider ${kind} is unknown`, `use ${PROVIDERS.join(", ")}`);
        const provider = await app.providers.get(kind as ProviderKind);
        for (const i of await provider.list({ [LAUNCH_TAG.origin]: "launch" })) {
          if (!opts.all && i.status === "terminated") continue;
          rows.push({
            id: i.id,
            job_id: i.tags[LAUNCH_TAG.array] ?? "(launch)",
            attempt: 0,
            node: Number(i.tags["spotrun:node"] ?? 0),
            provider: i.provider,
            instance_type: i.instanceType,
            zone: i.zone ?? null,
            spot: i.spot ? 1 : 0,
            price_per_hour: i.pricePerHour,
            od_price_per_hour: i.onDemandPricePerHour,
            launched_at: i.launchedAt,
            ended_at: i.status === "terminated" ? (i.endedAt ?? now) : null,
            end_reason: i.status === "terminated" ? "terminated" : null,
            address: i.address ?? null,
          });
        }
      }
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
