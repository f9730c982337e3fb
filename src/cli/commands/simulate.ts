import { Option } from "commander";
import { formatDuration, parseDuration } from "../../base/duration.js";
import { usageError } from "../../base/errors.js";
import { openApp } from "../app.js";
import type { CommandContext, CommandSpec } from "../command.js";
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

export const simulateCommand: CommandSpec = {
  name: "simulate",
  summary: "replay spot availability traces through the placement policies on a virtual clock",
  examples: [
    "spotrun simulate --trace us-west-2a_v100_1.json --work 48h --deadline 60h --restart-overhead 12m --policy all",
    "spotrun simulate --trace a.json --trace b.json --work 48h --deadline 52h --policy uniform-progress --json   # zones a, b with failover",
    "spotrun simulate --trace traces/*.json --each --work 48h --deadline 70h --restart-overhead 3m",
    "spotrun simulate --trace a.json --work 48h --deadline 70h --policy ross --seed 7   # the randomized policy, one seed",
    "spotrun simulate --job my-rehearsal   # a deadline job on a replayed trace, beside simulate, tick by tick",
  ],
  options: (cmd) =>
    cmd
      .option("--trace <files...>", "availability trace(s) (JSON), one per zone, best first; repeatable")
      .option("--work <duration>", "compute time the job needs, e.g. 48h")
      .option("--deadline <duration>", "time from the job's start to its deadline, e.g. 60h")
      .option("--restart-overhead <duration>", "time a new instance takes before it makes progress", "12m")
      .option("--spot-price <usd>", "spot price per hour", "0.92")
      .option("--on-demand-price <usd>", "on-demand price per hour", "3.06")
      .addOption(
        new Option("--policy <name>", "policy to replay")
          .choices(["greedy", "uniform-progress", "ross", "adaptive", "on-demand", "spot-only", "all"])
          .default("all"),
      )
      .option("--seed <n>", "seed of a randomized policy (ross): the same seed replays the same draws", "1")
      .option("--start-at <duration>", "start the job this far into the traces", "0s")
      .option("--block-zone-for <duration>", "with several traces: how long failover avoids a preempted zone", "30m")
      .option("--each", "simulate each trace as its own single-zone job instead of one job across zones")
      .option("--timeline", "with --json: include every tick's decision")
      .option(
        "--job <id>",
        "compare a managed job that ran the deadline strategy on a replayed trace with simulate, tick by tick",
      ),
  async run(ctx, _args, opts) {
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
    return { data, human: `${title}\n\n${table(headers, rows)}` };
  },
};

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
      human: `${title}\n\n${table(["tick", "job", "simulate", ""], rows)}\n\n${r.matched} of ${r.compared} ticks the same`,
    };
  } finally {
    await app.close();
  }
}
