/** What `spotrun simulate` does, imported only when it runs (its flags are defined in simulate.ts). */
import { formatDuration, parseDuration } from "../../base/duration.js";
import { usageError } from "../../base/errors.js";
import { openApp } from "../app.js";
import type { CommandContext, CommandResult } from "../command.js";
import { table } from "../output.js";

function duration(flag: string, v: unknown, fallback?: string): number {
  const raw = v ?? fallback;
  if (raw === undefined) throw usageError(`${flag} is required`, `pass ${flag}, e.g. ${flag} 48h`);
  const ms = parseDuration(String(raw));
  if (ms === undefined) throw usageError(`${flag}: expected a duration such as 90s, 12m or 48h, got ${JSON.stringify(raw)}`);
  return ms;
}

function price(flag: string, v: unknown): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw usageError(`${flag}: expected a price in USD per hour, got ${JSON.stringify(v)}`);
  return n;
}

const hours = (ms: number) => Math.round((ms / 3_600_000) * 1000) / 1000;
const usd = (n: number) => Math.round(n * 100) / 100;

async function compareJob(ctx: CommandContext, ref: string) {
  const { replayJob } = await import("../job-replay.js");
  const app = await openApp(ctx);
  try {
    const r = await replayJob(app.store, ref);
    const cell = (d: { choice: string; rule: string } | null, flag: boolean | undefined) =>
      d ? `${d.choice} (${d.rule})${flag ? " reclaimed" : ""}` : "-";
    const rows = r.ticks.map((t) => [
      t.tick,
      cell(t.live, t.live?.reclaimed),
      cell(t.simulated, t.simulated?.preempted),
      t.live && t.simulated ? (t.same ? "same" : "DIFFERENT") : "",
    ]);
    const title =
      `job ${r.id} (${r.policy}) beside simulate on ${r.trace} from ${formatDuration(r.start_at_seconds * 1000)}: ` +
      `${formatDuration(r.work_seconds * 1000)} of work, deadline ${formatDuration(r.deadline_seconds * 1000)}, ` +
      `restart ${formatDuration(r.restart_overhead_seconds * 1000)} (trace time)`;
    return {
      data: r,
      human: `${title}\n\n${await table(["tick", "job", "simulate", ""], rows)}\n\n${r.matched} of ${r.compared} ticks the same`,
    };
  } finally {
    await app.close();
  }
}

export async function simulate(ctx: CommandContext, _args: string[], opts: Record<string, unknown>): Promise<CommandResult> {
  if (opts.job) return compareJob(ctx, String(opts.job));
  const { loadTrace } = await import("../../spec/availability-trace.js");
  const { simulate } = await import("../../placement/simulator.js");
  const { POLICY_NAMES } = await import("../../placement/policy.js");
  const files = (opts.trace as string[] | undefined) ?? [];
  if (files.length === 0) throw usageError("no trace given", "pass --trace FILE (see ../shared/traces)");
  const workMs = duration("--work", opts.work);
  const deadlineMs = duration("--deadline", opts.deadline);
  const cost = {
    spotPricePerHour: price("--spot-price", opts.spotPrice),
    onDemandPricePerHour: price("--on-demand-price", opts.onDemandPrice),
    restartOverheadMs: duration("--restart-overhead", opts.restartOverhead),
  };
  const startOffsetMs = duration("--start-at", opts.startAt);
  const seed = Number(opts.seed);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)
    throw usageError(`--seed: expected a whole number from 0 to 4294967295, got ${JSON.stringify(opts.seed)}`);
  const blockZoneFor = duration("--block-zone-for", opts.blockZoneFor);
  const policies = opts.policy === "all" ? [...POLICY_NAMES] : [opts.policy as (typeof POLICY_NAMES)[number]];
  const traces = await Promise.all(files.map(loadTrace));
  const jobs = opts.each ? traces.map((t) => [t]) : [traces];

  const run = (zones: typeof traces, policy: (typeof POLICY_NAMES)[number]) => ({
    zones: zones.map((z) => z.name),
    ...simulate({
      traces: zones,
      policy,
      workMs,
      deadlineMs,
      cost,
      startOffsetMs,
      recovery: { strategy: zones.length > 1 ? "failover" : "same", block_zone_for: blockZoneFor },
      policyParams: { seed },
      keepTimeline: Boolean(opts.timeline),
    }),
  });
  // Savings are against running the same job on on-demand, simulated even when not asked for.
  const results = jobs.flatMap((zones) => {
    const baseline = run(zones, "on-demand").costUsd;
    return policies.map((policy) => ({ ...run(zones, policy), baseline }));
  });

  const data = {
    traces: files,
    work_hours: hours(workMs),
    deadline_hours: hours(deadlineMs),
    restart_overhead_seconds: cost.restartOverheadMs / 1000,
    seed,
    spot_price_per_hour_usd: cost.spotPricePerHour,
    on_demand_price_per_hour_usd: cost.onDemandPricePerHour,
    results: results.map((r) => ({
      id: `${r.policy}@${r.zones.join("+")}`,
      policy: r.policy,
      zones: r.zones,
      cost_usd: usd(r.costUsd),
      saved_vs_on_demand_usd: usd(r.baseline - r.costUsd),
      finished_after_hours: r.finishedAfterMs === undefined ? null : hours(r.finishedAfterMs),
      deadline_met: r.deadlineMet,
      preemptions: r.preemptions,
      changeovers: r.changeovers,
      spot_hours: hours(r.spotMs),
      on_demand_hours: hours(r.onDemandMs),
      ...(r.timeline
        ? {
            timeline: r.timeline.map((t) => ({
              at_hours: hours(t.atMs),
              choice: t.choice,
              rule: t.rule,
              zone: t.zone ?? null,
              preempted: t.preempted,
            })),
          }
        : {}),
    })),
  };

  const rows = results.map((r) => {
    const saved = r.policy === "on-demand" ? "" : `${Math.round((1 - r.costUsd / r.baseline) * 100)}%`;
    return [
      ...(jobs.length > 1 ? [r.zones.join("+")] : []),
      r.policy,
      `$${r.costUsd.toFixed(2)}`,
      saved,
      r.finishedAfterMs === undefined ? "unfinished" : formatDuration(r.finishedAfterMs),
      r.deadlineMet ? "met" : "MISSED",
      r.preemptions,
      r.changeovers,
    ];
  });
  const headers = [
    ...(jobs.length > 1 ? ["trace"] : []),
    "policy",
    "cost",
    "saved",
    "finish",
    "deadline",
    "preemptions",
    "changeovers",
  ];
  const title =
    `${formatDuration(workMs)} of work, deadline ${formatDuration(deadlineMs)}, restart ${formatDuration(cost.restartOverheadMs)}, ` +
    `spot $${cost.spotPricePerHour}/h, on-demand $${cost.onDemandPricePerHour}/h` +
    (jobs.length === 1 ? ` — ${traces.length > 1 ? "zones " : "trace "}${traces.map((t) => t.name).join(", ")}` : "");
  return { data, human: `${title}\n\n${await table(headers, rows)}` };
}
