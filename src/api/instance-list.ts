import { toIso } from "../base/clock.js";
import { errorMessage } from "../base/errors.js";
import { instanceCost } from "../cost/ledger.js";
import { TAG } from "../providers/provider.js";
import type { ProviderCache } from "../providers/registry.js";
import type { ProviderKind } from "../spec/task-schema.js";
import type { InstanceRow, StateStore } from "../state/state-store.js";

/** Tags of a direct launch (not a managed job): which array, and that `spotrun launch` made it. */
export const LAUNCH_TAG = { array: "spotrun:job-array", origin: "spotrun:origin" } as const;

export interface InstanceListOptions {
  /** Include instances that have ended. */
  all?: boolean;
  /** Only these providers (and ask each of them for `spotrun launch`'s instances). */
  providers?: ProviderKind[];
  /** A provider that cannot be asked (credentials, network): said here, the rest still listed. */
  warn?: (message: string) => void;
}

/**
 * Every instance spotrun launched: managed jobs' from the store, and `spotrun launch`'s from the
 * providers it launched on (the store records which), found there by their tag. What `spotrun list`
 * prints and the dashboard's instances page shows.
 */
export async function listInstances(
  app: { store: StateStore; providers: ProviderCache; clock: { now(): number } },
  opts: InstanceListOptions = {},
) {
  const now = app.clock.now();
  const filter = opts.providers;
  // A direct launch has no job: its row's job_id is its array's (or "(launch)").
  const rows: (Omit<InstanceRow, "job_id"> & { job_id: string; managed: boolean })[] = (
    await app.store.instances(opts.all ? {} : { live: true })
  )
    .filter((r) => !filter || filter.includes(r.provider as ProviderKind))
    .map((r) => ({ ...r, managed: true }));
  const launchedOn = (await app.store.db.selectFrom("launched").select("provider").distinct().execute()).map(
    (r) => r.provider as ProviderKind,
  );
  for (const kind of filter ?? launchedOn) {
    let found: Awaited<ReturnType<Awaited<ReturnType<ProviderCache["get"]>>["list"]>> = [];
    try {
      found = await (await app.providers.get(kind)).list({ [LAUNCH_TAG.origin]: "launch" });
    } catch (e) {
      if (filter) throw e;
      opts.warn?.(`could not list ${kind} instances from spotrun launch: ${errorMessage(e)}`);
    }
    for (const i of found) {
      if (!opts.all && i.status === "terminated") continue;
      rows.push({
        id: i.id,
        job_id: i.tags[LAUNCH_TAG.array] ?? "(launch)",
        attempt: 0,
        node: Number(i.tags[TAG.node] ?? 0),
        provider: i.provider,
        instance_type: i.instanceType,
        zone: i.zone ?? null,
        spot: i.spot,
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
  return rows.map((r) => {
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
      spot: r.spot,
      price_usd_per_hour: r.price_per_hour,
      launched_at: toIso(r.launched_at),
      ended_at: r.ended_at ? toIso(r.ended_at) : null,
      end_reason: r.end_reason,
      age_seconds: Math.round(c.seconds),
      cost_usd: Math.round(c.cost * 1e6) / 1e6,
    };
  });
}
export type InstanceView = Awaited<ReturnType<typeof listInstances>>[number];
