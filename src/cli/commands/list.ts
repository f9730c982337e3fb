import { toIso } from "../../base/clock.js";
import { formatDuration } from "../../base/duration.js";
import { errorMessage, usageError } from "../../base/errors.js";
import { formatUsd, instanceCost } from "../../cost/ledger.js";
import { PROVIDERS, type ProviderKind } from "../../spec/task-schema.js";
import type { InstanceRow } from "../../state/state-store.js";
import { openApp } from "../app.js";
import type { CommandSpec } from "../command.js";
import { launchedProviders } from "../launched-providers.js";
import { table } from "../output.js";
import { LAUNCH_TAG } from "./launch.js";

export const listCommand: CommandSpec = {
  name: "list",
  summary: "List every instance spotrun launched (managed jobs and `spotrun launch`): spot marker, type, zone, price, age, cost",
  examples: [
    "spotrun list",
    "spotrun list --all --json",
    "spotrun list --provider aws        # only AWS instances, managed or launched",
    "spotrun list --provider aws,local",
  ],
  options: (cmd) =>
    cmd
      .option("-a, --all", "include instances that have ended")
      .option("--provider <kinds>", "only instances on these providers (comma-separated: local, aws, gcp, vast)"),
  async run(ctx, _args, opts) {
    const filter = opts.provider === undefined ? undefined : String(opts.provider).split(",");
    for (const kind of filter ?? [])
      if (!(PROVIDERS as readonly string[]).includes(kind))
        throw usageError(`--provider ${kind} is unknown`, `use ${PROVIDERS.join(", ")}`);
    const app = await openApp(ctx);
    try {
      const now = app.clock.now();
      const managed = await app.store.instances(opts.all ? {} : { live: true });
      const rows: (InstanceRow & { managed: boolean })[] = managed
        .filter((r) => !filter || filter.includes(r.provider))
        .map((r) => ({ ...r, managed: true }));
      // `spotrun launch` records nothing in the store: its instances are found by their tag, at each
      // provider it has launched on (or the ones asked for).
      const ask = filter ? (filter as ProviderKind[]) : launchedProviders(ctx.home);
      for (const kind of ask) {
        const found = await app.providers
          .get(kind)
          .then((p) => p.list({ [LAUNCH_TAG.origin]: "launch" }))
          .catch((e) => {
            if (!filter) ctx.out.warn(`could not list ${kind} instances from spotrun launch: ${errorMessage(e)}`);
            else throw e;
            return [];
          });
        for (const i of found) {
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
            managed: false,
          });
        }
      }
      const data = rows.map((r) => {
        const c = instanceCost(r, now);
        return {
          id: r.id,
          job_id: r.job_id,
          managed: r.managed,
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
            ["INSTANCE", "PROVIDER", "JOB", "ATTEMPT", "MARKET", "TYPE", "ZONE", "PRICE/H", "AGE", "COST", "STATE"],
            data.map((d) => [
              d.id,
              d.provider,
              d.job_id,
              d.managed ? `#${d.attempt + 1}` : "launch",
              d.spot ? "spot ⚡" : "on-demand",
              d.instance_type,
              d.zone ?? "-",
              formatUsd(d.price_usd_per_hour),
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
