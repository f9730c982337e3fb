/** What `spotrun history` does, imported only when it runs (its flags are defined in history.ts). */
import { usageError } from "../../base/errors.js";
import { openApp } from "../app.js";
import type { CommandContext, CommandResult } from "../command.js";
import { table } from "../output.js";
import { parseSince } from "./status-actions.js";

export function nonNegative(flag: string, v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || String(v).trim() === "")
    throw usageError(`${flag}: expected a number ≥ 0, got ${JSON.stringify(v)}`);
  return n;
}

const pct = (r: number | null) => (r === null ? "-" : `${(r * 100).toFixed(r < 0.1 ? 2 : r < 10 ? 1 : 0)}%`);
const hours = (h: number | null) => (h === null ? "-" : h >= 100 ? h.toFixed(0) : h >= 1 ? h.toFixed(1) : h.toFixed(4));

export async function history(ctx: CommandContext, _args: string[], opts: Record<string, unknown>): Promise<CommandResult> {
  const app = await openApp(ctx);
  try {
    const now = app.clock.now();
    const doc = await app.history({
      ...(opts.provider !== undefined ? { provider: String(opts.provider) } : {}),
      ...(opts.type !== undefined ? { instanceType: String(opts.type) } : {}),
      ...(opts.zone !== undefined ? { zone: String(opts.zone) } : {}),
      ...(opts.region !== undefined ? { region: String(opts.region) } : {}),
      ...(opts.since !== undefined ? { sinceMs: parseSince(String(opts.since), now) } : {}),
      minHours: nonNegative("--min-hours", opts.minHours) as number,
      assumedRiskPerHour: nonNegative("--assume-risk", opts.assumeRisk) as number,
    });
    const rows = doc.pools.map((p) => [
      p.provider,
      p.region ?? "-",
      p.zone ?? "-",
      p.instance_type,
      p.spot ? "spot" : "on-demand",
      p.instances,
      hours(p.instance_hours),
      p.spot ? p.preemptions : "-",
      pct(p.observed_rate_per_hour),
      pct(p.rate_per_hour),
      p.spot ? `${pct(p.rate_low_per_hour)}–${pct(p.rate_high_per_hour)}` : "-",
      p.risk_source === "measured"
        ? `measured (n=${p.instances}, ${hours(p.instance_hours)} h)`
        : p.risk_source === "assumed"
          ? `assumed (${hours(p.instance_hours)} of ${doc.min_hours} h)`
          : "-",
    ]);
    const scope = doc.since ? `since ${doc.since}` : "all recorded time";
    const head = `interruption history, ${scope}: ${doc.pools.length} pool${doc.pools.length === 1 ? "" : "s"}`;
    const note = [
      "seen/h: preemptions per instance-hour as counted (a preemption: an attempt that ended preempted on spot).",
      `estimate/h: Gamma–Poisson posterior with the prior ${pct(doc.prior.rate_per_hour)}/h worth ${doc.prior.hours} instance-hours, and its 90% interval;`,
      `  offers and failover rank with it once a pool has ${doc.min_hours} instance-hours (--min-hours), with the prior before that.`,
    ].join("\n");
    const human = doc.pools.length
      ? `${head}\n\n${await table(
          [
            "PROVIDER",
            "REGION",
            "ZONE",
            "TYPE",
            "MARKET",
            "INSTANCES",
            "HOURS",
            "PREEMPTED",
            "SEEN/H",
            "ESTIMATE/H",
            "90%",
            "RATE USED",
          ],
          rows,
        )}\n\n${note}`
      : `${head}\n\nno instances recorded${doc.since || opts.provider || opts.type || opts.zone || opts.region ? " that match" : ""} — managed jobs record every instance they run on`;
    return { data: doc, human };
  } finally {
    await app.close();
  }
}
