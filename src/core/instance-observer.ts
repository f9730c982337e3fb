import type { Clock } from "../base/clock.js";
import { errorMessage } from "../base/errors.js";
import { InstanceId, type JobId } from "../base/ids.js";
import type { Logger } from "../base/logger.js";
import { type InstanceInfo, type Provider, TAG, taggedJob } from "../providers/provider.js";

/** What the controller knows of one instance: as last seen, or not found (for how long). */
export type Sighting =
  | { kind: "seen"; info: InstanceInfo; at: number }
  /** Not in a listing or a describe yet: a new instance the API does not show yet, or one that went. */
  | { kind: "missing"; since: number }
  /** Not found for longer than the grace: it is gone. */
  | { kind: "gone"; since: number };

export interface InstanceObserverOptions {
  clock: Clock;
  logger: Logger;
  /** The tag value every instance of this store carries. */
  storeTag: () => string;
  /** A steady listing per provider this often, whatever the number of jobs (default: the provider's own hint, else 10 s). */
  listEveryMs?: number;
  /**
   * With a provider that can list only what is not running (`listUnsettled`), the steady listing
   * is that one, and the whole fleet is listed only this often (default 5 min): a listing of
   * 10,000 instances is 10 pages, one of what changed is one.
   */
  fullListEveryMs?: number;
  /** Instances of jobs in transition (launching, setting up, under notice) are described this often. */
  hurryEveryMs?: number;
  /** An instance not found this long is gone (APIs are eventually consistent: a new one may not show at once). */
  missingGraceMs?: number;
  /** A job whose instance changed: visit it now rather than at its next steady visit. */
  onChange?: (jobId: JobId) => void;
}

/** An id no job has asked about for this long is no longer worth a describe. */
const WANTED_FOR_MS = 10 * 60_000;

interface Pool {
  infos: Map<string, { info: InstanceInfo; at: number }>;
  missingSince: Map<string, number>;
  /** When each id was last asked for by a hurried describe. */
  askedAt: Map<string, number>;
  /** Ids jobs asked about, and when last: a listing that misses one describes it. */
  wanted: Map<string, number>;
  listedAt: number;
  /** When the whole fleet was last listed (the steady listing may be of what is not running only). */
  fullAt: number;
  listing?: Promise<void>;
  lastListing: InstanceInfo[];
  failures: number;
  pendingDescribe: Set<string>;
  describing?: Promise<void>;
}

/**
 * The controller's one view of the providers' instances. A steady pass lists each provider's
 * instances once (by this store's tag), shared by every job, so the calls per minute do not grow
 * with the number of jobs; ids a listing missed are described in one batch; jobs in transition
 * get a quick describe of their own instances, coalesced across jobs. A failed call backs off the
 * whole provider.
 */
export class InstanceObserver {
  private readonly pools = new Map<Provider, Pool>();
  private readonly hurryEveryMs: number;
  private readonly missingGraceMs: number;
  private readonly fullListEveryMs: number;

  constructor(private readonly o: InstanceObserverOptions) {
    this.hurryEveryMs = o.hurryEveryMs ?? 2000;
    this.missingGraceMs = o.missingGraceMs ?? 60_000;
    this.fullListEveryMs = o.fullListEveryMs ?? 300_000;
  }

  private pool(p: Provider): Pool {
    let pool = this.pools.get(p);
    if (!pool) {
      pool = {
        infos: new Map(),
        missingSince: new Map(),
        askedAt: new Map(),
        wanted: new Map(),
        listedAt: Number.NEGATIVE_INFINITY,
        fullAt: Number.NEGATIVE_INFINITY,
        lastListing: [],
        failures: 0,
        pendingDescribe: new Set(),
      };
      this.pools.set(p, pool);
    }
    return pool;
  }

  private listEvery(p: Provider, pool: Pool): number {
    const base = this.o.listEveryMs ?? p.pollIntervalMs ?? 10_000;
    // A provider that keeps failing is asked less often, up to 8× the steady interval.
    return base * Math.min(8, 2 ** pool.failures);
  }

  /** Instances a launch just returned: known at once, without a call. */
  note(provider: Provider, infos: readonly InstanceInfo[]): void {
    const pool = this.pool(provider);
    for (const info of infos) {
      this.store(pool, info);
      pool.wanted.set(info.id, this.o.clock.now());
    }
  }

  /**
   * The latest view of these instances: `hurry` asks for one no older than the quick interval,
   * `fresh` for one taken now (coalesced with the other jobs' of this pass).
   */
  async view(
    provider: Provider,
    ids: readonly string[],
    opts: { hurry?: boolean; fresh?: boolean } = {},
  ): Promise<Map<string, Sighting>> {
    const pool = this.pool(provider);
    const now = this.o.clock.now();
    for (const id of ids) pool.wanted.set(id, now);
    if (opts.fresh) await this.describeSoon(provider, pool, [...ids]);
    else if (now - pool.listedAt >= this.listEvery(provider, pool)) await this.refresh(provider, pool);
    else if (opts.hurry) {
      const stale = ids.filter((id) => {
        const seen = pool.infos.get(id);
        // An instance still starting is looked at twice as often: its bootstrap waits on it.
        const every = !seen || seen.info.status === "pending" ? this.hurryEveryMs / 2 : this.hurryEveryMs;
        return (!seen || now - seen.at >= every) && now - (pool.askedAt.get(id) ?? Number.NEGATIVE_INFINITY) >= every;
      });
      if (stale.length > 0) await this.describeSoon(provider, pool, stale);
    }
    const out = new Map<string, Sighting>();
    for (const id of ids) out.set(id, this.sighting(pool, id, now));
    return out;
  }

  /** The provider's instances of this store as of the last listing (refreshed when due): the reaper's input. */
  async listing(provider: Provider): Promise<InstanceInfo[]> {
    const pool = this.pool(provider);
    if (this.o.clock.now() - pool.listedAt >= this.listEvery(provider, pool)) await this.refresh(provider, pool);
    return pool.lastListing;
  }

  /** Instances we just terminated: the cached listing must not offer them to the reaper again. */
  ended(provider: Provider, ids: readonly string[]): void {
    const pool = this.pool(provider);
    const gone = new Set(ids);
    const at = this.o.clock.now();
    pool.lastListing = pool.lastListing.map((i) => (gone.has(i.id) ? { ...i, status: "terminated", endedAt: at } : i));
    for (const id of ids) {
      const seen = pool.infos.get(id);
      if (seen) pool.infos.set(id, { info: { ...seen.info, status: "terminated", endedAt: at }, at: seen.at });
    }
  }

  /** Stop tracking an instance that has ended in the store. */
  forget(id: string): void {
    for (const pool of this.pools.values()) {
      pool.infos.delete(id);
      pool.missingSince.delete(id);
      pool.askedAt.delete(id);
      pool.wanted.delete(id);
    }
  }

  private sighting(pool: Pool, id: string, now: number): Sighting {
    const seen = pool.infos.get(id);
    if (seen) return { kind: "seen", info: seen.info, at: seen.at };
    const since = pool.missingSince.get(id);
    if (since === undefined) return { kind: "missing", since: now };
    return now - since >= this.missingGraceMs ? { kind: "gone", since } : { kind: "missing", since };
  }

  private refresh(provider: Provider, pool: Pool): Promise<void> {
    pool.listing ??= (async () => {
      const started = this.o.clock.now();
      try {
        const tags = { [TAG.managed]: this.o.storeTag() };
        const partial = provider.listUnsettled !== undefined && started - pool.fullAt < this.fullListEveryMs;
        const found = partial
          ? await (provider.listUnsettled as NonNullable<Provider["listUnsettled"]>)(tags)
          : await provider.list(tags);
        const at = this.o.clock.now();
        const listed = new Set<string>();
        for (const info of found) {
          listed.add(info.id);
          this.store(pool, info, at);
        }
        for (const [id, viewed] of pool.wanted) if (at - viewed > WANTED_FOR_MS) pool.wanted.delete(id);
        // A listing of what is not running leaves out what runs: an instance last seen running and
        // not in it still runs (or is long gone, which the next full listing tells).
        const stillRunning = (id: string) => partial && pool.infos.get(id)?.info.status === "running";
        for (const [id, seen] of pool.infos)
          if (listed.has(id)) continue;
          else if (stillRunning(id)) pool.infos.set(id, { info: seen.info, at });
          else if (!pool.wanted.has(id)) pool.infos.delete(id);
        // Ids a job asked for lately that the listing missed (tags not visible yet, or no longer
        // starting): one describe.
        const unlisted = [...pool.wanted.keys()].filter((id) => !listed.has(id) && !stillRunning(id));
        if (unlisted.length > 0) await this.describe(provider, pool, unlisted);
        if (partial) {
          // The reaper's listing: the last full one, brought up to date with all this pool has
          // seen since (listed, described, launched), so it does not ask again for what runs.
          const merged = new Map(pool.lastListing.map((i) => [i.id as string, i]));
          for (const { info } of pool.infos.values()) merged.set(info.id, info);
          pool.lastListing = [...merged.values()];
        } else {
          pool.lastListing = found;
          pool.fullAt = started;
        }
        pool.failures = 0;
      } catch (e) {
        pool.failures++;
        this.o.logger.warn(
          { provider: provider.kind, err: errorMessage(e) },
          `listing ${provider.kind} instances failed; the next listing is in ${Math.round(this.listEvery(provider, pool) / 1000)} s`,
        );
      } finally {
        pool.listedAt = started;
        pool.listing = undefined;
      }
    })();
    return pool.listing;
  }

  /** Coalesce the quick describes of every job visited in this pass into one call. */
  private async describeSoon(provider: Provider, pool: Pool, ids: string[]): Promise<void> {
    for (const id of ids) pool.pendingDescribe.add(id);
    if (!pool.describing) {
      pool.describing = new Promise<void>((r) => setImmediate(r)).then(async () => {
        const batch = [...pool.pendingDescribe];
        pool.pendingDescribe.clear();
        pool.describing = undefined;
        const now = this.o.clock.now();
        for (const id of batch) pool.askedAt.set(id, now);
        await this.describe(provider, pool, batch).catch((e) =>
          this.o.logger.warn({ provider: provider.kind, err: errorMessage(e) }, "describing instances failed; retrying shortly"),
        );
      });
    }
    await pool.describing;
  }

  private async describe(provider: Provider, pool: Pool, ids: string[]): Promise<void> {
    const infos = await provider.describe(ids.map((id) => InstanceId(id)));
    const at = this.o.clock.now();
    const found = new Set<string>();
    for (const info of infos) {
      found.add(info.id);
      this.store(pool, info, at);
    }
    for (const id of ids) {
      if (found.has(id)) continue;
      const had = pool.infos.get(id);
      pool.infos.delete(id);
      if (!pool.missingSince.has(id)) pool.missingSince.set(id, at);
      if (had) this.changed(had.info);
    }
  }

  private store(pool: Pool, info: InstanceInfo, at = this.o.clock.now()): void {
    const before = pool.infos.get(info.id)?.info;
    pool.infos.set(info.id, { info, at });
    pool.missingSince.delete(info.id);
    if (before && differs(before, info)) this.changed(info);
  }

  private changed(info: InstanceInfo): void {
    const job = taggedJob(info.tags);
    if (job) this.o.onChange?.(job);
  }
}

function differs(a: InstanceInfo, b: InstanceInfo): boolean {
  return (
    a.status !== b.status ||
    a.address !== b.address ||
    a.interrupted?.reason !== b.interrupted?.reason ||
    a.failure?.kind !== b.failure?.kind
  );
}
