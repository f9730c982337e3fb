import { Option } from "commander";
import { formatDuration, parseDuration } from "../../base/duration.js";
import { usageError } from "../../base/errors.js";
import type { RankedOffer } from "../../placement/rank-offers.js";
import type { Offer } from "../../providers/provider.js";
import type { CommandSpec } from "../command.js";
import { table } from "../output.js";

function durationOpt(flag: string, v: unknown): number {
  const ms = parseDuration(String(v));
  if (ms === undefined) throw usageError(`${flag}: expected a duration such as 30m or 48h, got ${JSON.stringify(v)}`);
  return ms;
}

function positiveInt(flag: string, v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw usageError(`${flag}: expected a whole number ≥ 1, got ${JSON.stringify(v)}`);
  return n;
}

const round = (n: number, digits: number) => (Number.isFinite(n) ? Math.round(n * 10 ** digits) / 10 ** digits : null);

const offerJson = (r: RankedOffer) => ({
  id: r.offer.id,
  rank: r.rank,
  provider: r.offer.provider,
  instance_type: r.offer.instanceType,
  region: r.offer.region ?? null,
  zone: r.offer.zone ?? null,
  spot: r.offer.spot,
  price_per_hour_usd: r.offer.pricePerHour,
  on_demand_price_per_hour_usd: r.offer.onDemandPricePerHour,
  interruption_risk_per_hour: r.riskPerHour,
  risk_source: r.riskSource,
  expected_hours: round(r.expectedBilledMs / 3_600_000, 3),
  expected_interruptions: round(r.expectedInterruptions, 2),
  expected_cost_usd: round(r.expectedCostUsd, 2),
  why: r.why,
});

function render(ranked: RankedOffer[], title: string): string {
  const rows = ranked.map((r) => [
    r.rank,
    r.offer.id,
    r.offer.instanceType,
    r.offer.zone ?? r.offer.region ?? "-",
    r.offer.spot ? "spot" : "on-demand",
    `$${r.offer.pricePerHour.toFixed(3)}`,
    r.offer.spot ? `${(r.riskPerHour * 100).toFixed(1)}%${r.riskSource === "assumed" ? "*" : ""}` : "-",
    Number.isFinite(r.expectedCostUsd) ? `$${r.expectedCostUsd.toFixed(2)}` : "never",
  ]);
  const body = table(["#", "offer", "type", "where", "market", "$/h", "risk/h", "to finish"], rows);
  const why = ranked.map((r) => `  ${r.rank}. ${r.why}`).join("\n");
  const note = ranked.some((r) => r.riskSource === "assumed") ? "\n* no published interruption risk: --assume-risk used" : "";
  return `${title}\n\n${body}\n\nwhy:\n${why}${note}`;
}

export const offersCommand: CommandSpec = {
  name: "offers [query...]",
  summary: "list launchable offers and rank them by expected cost to finish",
  examples: [
    "spotrun offers --task task.yaml",
    "spotrun offers --task task.yaml --work 48h --restart-overhead 12m --json",
    'spotrun offers "gpu_name=RTX_4090 num_gpus>=1 reliability>0.98" --provider vast --order dph --limit 10',
  ],
  options: (cmd) =>
    cmd
      .option("--task <file>", "task YAML whose resources to price")
      .addOption(new Option("--provider <kind>", "with a QUERY: the provider whose query language it is").choices(["vast"]))
      .option("--order <fields>", "with a QUERY: sort order, e.g. dph or -reliability")
      .addOption(new Option("--type <type>", "with a QUERY: Vast rental type").choices(["on-demand", "bid"]))
      .option("--limit <n>", "show at most N offers")
      .option("--work <duration>", "work to price the finish of", "1h")
      .option("--restart-overhead <duration>", "time a new instance takes before it makes progress", "10m")
      .option("--assume-risk <per-hour>", "interruption risk per hour for spot offers that publish none", "0.05"),
  async run(ctx, args, opts) {
    const { rankOffers } = await import("../../placement/rank-offers.js");
    const limit = positiveInt("--limit", opts.limit);
    const assumed = Number(opts.assumeRisk);
    if (!Number.isFinite(assumed) || assumed < 0) throw usageError(`--assume-risk: expected a rate ≥ 0, got ${opts.assumeRisk}`);
    const rankOpts = {
      workMs: durationOpt("--work", opts.work),
      restartOverheadMs: durationOpt("--restart-overhead", opts.restartOverhead),
      assumedSpotRiskPerHour: assumed,
    };
    const query = args.join(" ").trim();
    let offers: Offer[];
    let source: string;
    if (query) {
      if (opts.provider !== "vast") throw usageError("a QUERY needs --provider vast", "or price a task with --task FILE");
      const { searchOffers } = await import("../../providers/vast/search-offers.js");
      const type = opts.type as "on-demand" | "bid" | undefined;
      offers = await searchOffers(query, {
        home: ctx.home,
        ...(opts.order === undefined ? {} : { order: String(opts.order) }),
        ...(limit === undefined ? {} : { limit }),
        ...(type === undefined ? {} : { type }),
      });
      source = `vast offers for ${JSON.stringify(query)}`;
    } else {
      if (!opts.task) throw usageError("nothing to price", "pass --task FILE, or a QUERY with --provider vast");
      const { loadTaskFile } = await import("../../spec/load-task.js");
      const { candidateOffers } = await import("../../placement/candidate-offers.js");
      const { createProvider } = await import("../../providers/registry.js");
      const { task } = await loadTaskFile(String(opts.task));
      const provider = await createProvider(task.resources.provider, { home: ctx.home, logger: ctx.logger });
      try {
        offers = candidateOffers(await provider.offers(task.resources), task.resources);
      } finally {
        await provider.close?.();
      }
      source = `${task.resources.provider} offers for task ${task.name}`;
    }
    // A query keeps the order the user asked for; a task's offers are ranked by expected cost.
    let ranked = rankOffers(offers, rankOpts);
    if (query && opts.order !== undefined) {
      const pos = new Map(offers.map((o, i) => [o, i]));
      ranked = ranked.sort((a, b) => (pos.get(a.offer) ?? 0) - (pos.get(b.offer) ?? 0)).map((r, i) => ({ ...r, rank: i + 1 }));
    }
    if (limit !== undefined) ranked = ranked.slice(0, limit);
    const title = `${source}: ${ranked.length} offer${ranked.length === 1 ? "" : "s"}, priced to finish ${formatDuration(rankOpts.workMs)} of work with ${formatDuration(rankOpts.restartOverheadMs)} restarts`;
    return {
      data: {
        work_hours: rankOpts.workMs / 3_600_000,
        restart_overhead_seconds: rankOpts.restartOverheadMs / 1000,
        offers: ranked.map(offerJson),
      },
      human: ranked.length
        ? render(ranked, title)
        : `${title}\n\nno offers match — widen the resources (instance types, region) or the query`,
    };
  },
};
