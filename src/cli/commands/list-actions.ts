/** What `spotrun list` does, imported only when it runs (its flags are defined in list.ts). */
import { listInstances } from "../../api/instance-list.js";
import { formatDuration } from "../../base/duration.js";
import { usageError } from "../../base/errors.js";
import { formatUsd } from "../../cost/ledger.js";
import { PROVIDERS, type ProviderKind } from "../../spec/task-limits.js";
import { SPARE_ATTEMPT } from "../../state/schema.js";
import { openApp } from "../app.js";
import type { CommandContext, CommandResult } from "../command.js";
import { table } from "../output.js";

export async function list(ctx: CommandContext, _args: string[], opts: Record<string, unknown>): Promise<CommandResult> {
  const filter = opts.provider === undefined ? undefined : String(opts.provider).split(",");
  for (const kind of filter ?? [])
    if (!(PROVIDERS as readonly string[]).includes(kind))
      throw usageError(`--provider ${kind} is unknown`, `use ${PROVIDERS.join(", ")}`);
  const app = await openApp(ctx);
  try {
    const data = await listInstances(app, {
      all: Boolean(opts.all),
      ...(filter ? { providers: filter as ProviderKind[] } : {}),
      warn: (m) => ctx.out.warn(m),
    });
    const human = data.length
      ? await table(
          ["INSTANCE", "PROVIDER", "JOB", "ATTEMPT", "MARKET", "TYPE", "ZONE", "PRICE/H", "AGE", "COST", "STATE"],
          data.map((d) => [
            d.id,
            d.provider,
            d.job_id,
            !d.managed ? "launch" : d.attempt === SPARE_ATTEMPT ? "spare" : `#${d.attempt + 1}`,
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
}
