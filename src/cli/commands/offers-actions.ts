/** What `spotrun offers` does, imported only when it runs (its flags are defined in offers.ts). */
import { formatDuration, parseDuration } from "../../base/duration.js";
import { usageError } from "../../base/errors.js";
import { type RankedOffer, type RiskHistory, riskSourceLabel } from "../../placement/rank-offers.js";
import type { Offer } from "../../providers/provider.js";
import type { CommandContext, CommandResult } from "../command.js";
import { table } from "../output.js";
import { nonNegative } from "./history-actions.js";

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

/** This store's record of the pools the offers are in (the CLI's home, or $SPOTRUN_STATE_URL). */
async function storeHistory(ctx: CommandContext, offers: readonly Offer[], minHours: number): Promise<RiskHistory> {
  const { openApp } = await import("../app.js");
  const { InterruptionHistory } = await import("../../core/interruption-history.js");
  const app = await openApp(ctx);
  try {
    return await new InterruptionHistory(app.store, () => app.clock.now(), { minHours }).forOffers(offers);
  } finally {
    await app.close();
  }
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
  /** What the store saw of this offer's pool; the rate is measured from it once it has --min-hours. */
  risk_sample: r.sample
    ? { instances: r.sample.instances, instance_hours: round(r.sample.hours, 4), preemptions: r.sample.preemptions }
    : null,
  interruption_risk_interval_per_hour: r.measured ? [round(r.measured.low, 6), round(r.measured.high, 6)] : null,
  expected_hours: round(r.expectedBilledMs / 3_600_000, 3),
  expected_interruptions: round(r.expectedInterruptions, 2),
  expected_cost_usd: round(r.expectedCostUsd, 2),
  why: r.why,
});

async function render(ranked: RankedOffer[], title: string, minHours: number): Promise<string> {
  const rows = ranked.map((r) => [
    r.rank,
    r.offer.id,
    r.offer.instanceType,
    r.offer.zone ?? r.offer.region ?? "-",
    r.offer.spot ? "spot" : "on-demand",
    `$${r.offer.pricePerHour.toFixed(3)}`,
    r.offer.spot ? `${(r.riskPerHour * 100).toFixed(1)}%` : "-",
    r.offer.spot ? riskSourceLabel(r) : "-",
    Number.isFinite(r.expectedCostUsd) ? `$${r.expectedCostUsd.toFixed(2)}` : "never",
  ]);
  const body = await table(["#", "offer", "type", "where", "market", "$/h", "risk/h", "rate from", "to finish"], rows);
  const why = ranked.map((r) => `  ${r.rank}. ${r.why}`).join("\n");
  const notes = [
    ranked.some((r) => r.riskSource === "measured")
      ? `measured: this store's preemptions per instance-hour in the offer's pool (n instances), once it has ${minHours} h (--min-hours); see \`spotrun history\``
      : "",
    ranked.some((r) => r.riskSource === "assumed") ? "assumed: no published risk and too little history: --assume-risk used" : "",
  ].filter(Boolean);
  return `${title}\n\n${body}\n\nwhy:\n${why}${notes.length ? `\n\n${notes.join("\n")}` : ""}`;
}

export async function offers(ctx: CommandContext, args: string[], opts: Record<string, unknown>): Promise<CommandResult> {
  const { rankOffers } = await import("../../placement/rank-offers.js");
  const limit = positiveInt("--limit", opts.limit);
  const assumed = Number(opts.assumeRisk);
  if (!Number.isFinite(assumed) || assumed < 0) throw usageError(`--assume-risk: expected a rate ≥ 0, got ${opts.assumeRisk}`);
  const minHours = nonNegative("--min-hours", opts.minHours) as number;
  const base = {
    workMs: durationOpt("--work", opts.work),
    restartOverheadMs: durationOpt("--restart-overhead", opts.restartOverhead),
    assumedSpotRiskPerHour: assumed,
  };
  const query = args.join(" ").trim();
  let offers: Offer[];
  let source: string;
  if (query) {
    if (opts.provider !== "vast") throw usageError("a QUERY needs --provider vast", "or price a task with --task FILE");
    const { createProvider } = await import("../../providers/registry.js");
    const type = opts.type as "on-demand" | "bid" | undefined;
    const provider = await createProvider(opts.provider, { home: ctx.home, logger: ctx.logger });
    try {
      if (!provider.searchOffers) throw new Error(`bug: the ${provider.kind} provider has no query language`);
      offers = await provider.searchOffers(query, {
        ...(opts.order === undefined ? {} : { order: String(opts.order) }),
        ...(limit === undefined ? {} : { limit }),
        ...(type === undefined ? {} : { type }),
      });
    } finally {
      await provider.close?.();
    }
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
  const rankOpts = { ...base, history: await storeHistory(ctx, offers, minHours) };
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
      min_measured_hours: minHours,
      offers: ranked.map(offerJson),
    },
    human: ranked.length
      ? await render(ranked, title, minHours)
      : `${title}\n\nno offers match — widen the resources (instance types, region) or the query`,
  };
}
