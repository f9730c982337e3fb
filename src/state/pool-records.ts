import { sql } from "kysely";
import { SPARE_ATTEMPT } from "./schema.js";
import type { StateStore } from "./state-store.js";

/** One capacity pool as the store saw it (placement's PoolRecord has the same shape). */
export interface PoolRow {
  provider: string;
  region: string | null;
  zone: string | null;
  instanceType: string;
  spot: boolean;
  instances: number;
  exposureMs: number;
  preemptions: number;
  firstAt: number;
  lastAt: number;
}

export interface PoolFilter {
  provider?: string;
  instanceTypes?: readonly string[];
  zone?: string;
  region?: string;
  spot?: boolean;
  /** Count only instance-time and preemptions from this time on. */
  sinceMs?: number;
  /** A live instance's time runs until now. */
  nowMs: number;
}

/**
 * Instance-time and preemptions per pool (provider, region, zone, instance type, market), as one
 * grouped query over the managed instances and the attempts they served.
 *
 * An instance's time runs from its launch to its recorded end (now while it lives), clipped to
 * `sinceMs`. A preemption is an attempt that ended `preempted` while on spot capacity, counted
 * once in each pool its instances were in (an attempt's nodes share one pool unless a fleet spread
 * them), at the attempt's end. Other ends (succeeded, cancelled, lost, changeover, reaped…) add
 * time but no preemption: "lost" is an agent that stopped reporting, which a preemption does not
 * explain by itself. A warm replacement reclaimed before any attempt took it (a spare, under
 * SPARE_ATTEMPT, with no attempt row) is a preemption of its own, counted once by its node 0.
 * Instances `spotrun launch` started are not managed and have no end reason.
 */
export async function poolRecords(store: StateStore, f: PoolFilter): Promise<PoolRow[]> {
  const since = f.sinceMs ?? 0;
  const end = sql<number>`coalesce(i.ended_at, ${f.nowMs})`;
  const start = sql<number>`case when i.launched_at > ${since} then i.launched_at else ${since} end`;
  let q = store.db
    .selectFrom("instances as i")
    .leftJoin("attempts as a", (j) => j.onRef("a.job_id", "=", "i.job_id").onRef("a.idx", "=", "i.attempt"))
    .select([
      "i.provider",
      "i.region",
      "i.zone",
      "i.instance_type",
      "i.spot",
      sql<number>`count(*)`.as("instances"),
      sql<number>`sum(case when ${end} > ${start} then ${end} - ${start} else 0 end)`.as("exposure_ms"),
      sql<number>`count(distinct case when i.spot = 1 and i.attempt <> ${SPARE_ATTEMPT} and a.end_kind = 'preempted' and a.ended_at >= ${since} then i.job_id || ':' || i.attempt when i.spot = 1 and i.attempt = ${SPARE_ATTEMPT} and i.node = 0 and i.end_reason = 'preempted' and i.ended_at >= ${since} then i.id end)`.as(
        "preemptions",
      ),
      sql<number>`min(i.launched_at)`.as("first_at"),
      sql<number>`max(${end})`.as("last_at"),
    ])
    .where(sql<boolean>`${end} > ${since}`);
  if (f.provider !== undefined) q = q.where("i.provider", "=", f.provider);
  if (f.instanceTypes !== undefined) {
    if (f.instanceTypes.length === 0) return [];
    q = q.where("i.instance_type", "in", [...f.instanceTypes]);
  }
  if (f.zone !== undefined) q = q.where("i.zone", "=", f.zone);
  if (f.region !== undefined) q = q.where("i.region", "=", f.region);
  if (f.spot !== undefined) q = q.where("i.spot", "=", f.spot ? 1 : 0);
  const rows = await q.groupBy(["i.provider", "i.region", "i.zone", "i.instance_type", "i.spot"]).execute();
  // PostgreSQL returns count and sum of bigints as strings (numeric); both fit a number.
  const pools = rows.map((r) => ({
    provider: r.provider,
    region: r.region ?? null,
    zone: r.zone,
    instanceType: r.instance_type,
    spot: Number(r.spot) === 1,
    instances: Number(r.instances),
    exposureMs: Number(r.exposure_ms),
    preemptions: Number(r.preemptions),
    firstAt: Number(r.first_at),
    lastAt: Number(r.last_at),
  }));
  // Sorted here, not in SQL: the dialects place NULL zones and regions at opposite ends.
  const key = (p: PoolRow) => [p.provider, p.instanceType, p.region ?? "", p.zone ?? "", p.spot ? "0" : "1"].join("\u0000");
  return pools.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}
