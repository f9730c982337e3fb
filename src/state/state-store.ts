import { hostname } from "node:os";
import type { Kysely, Selectable, Transaction } from "kysely";
import { usageError } from "../base/errors.js";
import { InstanceId, JobId } from "../base/ids.js";
import type { JobEvent } from "./job-event.js";
import { type JobState, TERMINAL_STATES } from "./job-states.js";
import { isPostgres } from "./migrations.js";
import type { AttemptsTable, Database, EventsTable, InstancesTable, JobsTable, LaunchedTable } from "./schema.js";

/**
 * Rows as the code sees them: the 0/1 columns (`spot`, `agent_started`; kept as integers in both SQLite and PostgreSQL) are
 * booleans here, and ids are branded (a job's id is a JobId, an instance's an InstanceId: one cannot be passed for the
 * other), converted at this store's boundary — every read and write of them goes through it.
 */
export type JobRow = Omit<JobsTable, "id"> & { id: JobId };
export type AttemptRow = Omit<AttemptsTable, "job_id" | "spot" | "agent_started"> & {
  job_id: JobId;
  spot: boolean;
  agent_started: boolean;
};
/** Its id is the provider's, branded (a job id cannot be passed for it). */
export type InstanceRow = Omit<InstancesTable, "spot" | "id" | "job_id"> & { id: InstanceId; job_id: JobId; spot: boolean };
export type LaunchedRow = LaunchedTable;
export type EventRow = { seq: number; job_id: JobId; at: number; kind: string; data: string };
type Db = Kysely<Database> | Transaction<Database>;

const TERMINAL = [...TERMINAL_STATES];

const flag = (v: number | boolean): boolean => Number(v) !== 0;
const bit = (b: boolean): number => (b ? 1 : 0);
/** Rows read: ids branded, 0/1 → boolean. */
export const jobOut = (r: JobsTable): JobRow => ({ ...r, id: JobId(r.id) });
export const attemptOut = (r: AttemptsTable): AttemptRow => ({
  ...r,
  job_id: JobId(r.job_id),
  spot: flag(r.spot),
  agent_started: flag(r.agent_started),
});
export const instanceOut = (r: InstancesTable): InstanceRow => ({
  ...r,
  id: InstanceId(r.id),
  job_id: JobId(r.job_id),
  spot: flag(r.spot),
});
const eventOut = (r: Selectable<EventsTable>): EventRow => ({ ...r, job_id: JobId(r.job_id) });
/** Rows and patches written: boolean → 0/1 (a patch converts only the fields it has). */
export function attemptIn(r: AttemptRow): AttemptsTable;
export function attemptIn(r: Partial<AttemptRow>): Partial<AttemptsTable>;
export function attemptIn(r: Partial<AttemptRow>): Partial<AttemptsTable> {
  const { spot, agent_started, ...rest } = r;
  return {
    ...rest,
    ...(spot === undefined ? {} : { spot: bit(spot) }),
    ...(agent_started === undefined ? {} : { agent_started: bit(agent_started) }),
  };
}
export const instanceIn = (r: InstanceRow): InstancesTable => ({ ...r, spot: bit(r.spot) });
const AMBIGUOUS_SHOWN = 5;

function ambiguous(what: string, rows: JobRow[]) {
  const shown = rows.slice(0, AMBIGUOUS_SHOWN).map((j) => `${j.id} (${j.state})`);
  const more = rows.length > AMBIGUOUS_SHOWN ? ", …" : "";
  return usageError(
    `${what} ${rows.length > AMBIGUOUS_SHOWN ? "more than " : ""}${Math.min(rows.length, AMBIGUOUS_SHOWN)} jobs: ${shown.join(", ")}${more}`,
    "give the job's id",
  );
}

/** Queries the controller and the CLI share; every multi-row change runs in one transaction. */
export class StateStore {
  /** A shared (PostgreSQL) store is worked by several controllers, each leasing jobs. */
  readonly shared: boolean;

  constructor(readonly db: Kysely<Database>) {
    this.shared = isPostgres(db as Kysely<unknown>);
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }

  transaction<T>(fn: (tx: StateStore) => Promise<T>): Promise<T> {
    return this.db.transaction().execute((tx) => fn(new StateStore(tx as unknown as Kysely<Database>)));
  }

  async insertJob(job: JobRow): Promise<void> {
    await this.db.insertInto("jobs").values(job).execute();
  }

  async job(id: JobId): Promise<JobRow | undefined> {
    const r = await this.db.selectFrom("jobs").selectAll().where("id", "=", id).executeTakeFirst();
    return r && jobOut(r);
  }

  /**
   * A job by id, unique id prefix, or name. A name that several jobs share, or a prefix of several
   * ids, is refused with the candidates (newest first): a `cancel` must not pick one silently.
   */
  async findJob(ref: string): Promise<JobRow | undefined> {
    // The ref as an id first: the one place text a user typed becomes a JobId (it is one if a job has it).
    const exact = await this.job(JobId(ref));
    if (exact) return exact;
    const newest = (rows: JobRow[]) => rows.sort((a, b) => b.created_at - a.created_at);
    const limit = AMBIGUOUS_SHOWN + 1;
    // Ids are letters, digits and '-': anything else (LIKE's '%' and '_' among it) is no prefix of one.
    const byPrefix = /^[A-Za-z0-9-]+$/.test(ref)
      ? (await this.db.selectFrom("jobs").selectAll().where("id", "like", `${ref}%`).limit(limit).execute()).map(jobOut)
      : [];
    if (byPrefix.length === 1) return byPrefix[0];
    const byName = (
      await this.db.selectFrom("jobs").selectAll().where("name", "=", ref).orderBy("created_at", "desc").limit(limit).execute()
    ).map(jobOut);
    if (byName.length === 1) return byName[0];
    if (byName.length > 1) throw ambiguous(`job name ${JSON.stringify(ref)} is shared by`, byName);
    if (byPrefix.length > 1) throw ambiguous(`${JSON.stringify(ref)} is the start of the ids of`, newest(byPrefix));
    return undefined;
  }

  async jobs(opts: { active?: boolean; arrayId?: string; limit?: number } = {}): Promise<JobRow[]> {
    let q = this.db.selectFrom("jobs").selectAll();
    if (opts.active) q = q.where("state", "not in", TERMINAL);
    if (opts.arrayId) q = q.where("array_id", "=", opts.arrayId);
    return (
      await q
        .orderBy("created_at", "desc")
        .limit(opts.limit ?? 100_000)
        .execute()
    ).map(jobOut);
  }

  /** Ids of every job not yet in a terminal state, oldest first. */
  async activeJobIds(): Promise<JobId[]> {
    const rows = await this.db.selectFrom("jobs").select("id").where("state", "not in", TERMINAL).orderBy("created_at").execute();
    return rows.map((r) => JobId(r.id));
  }

  /** Ids of the active jobs someone asked to cancel (the controller wakes them rather than wait for their next visit). */
  async cancelRequestedIds(): Promise<JobId[]> {
    const rows = await this.db
      .selectFrom("jobs")
      .select("id")
      .where("state", "not in", TERMINAL)
      .where("desired", "=", "cancel")
      .execute();
    return rows.map((r) => JobId(r.id));
  }

  /**
   * Lease up to `limit` active jobs to `owner` until `untilMs`: those it holds (renewed), and free
   * ones (never leased, or whose lease ran out). Rows another controller is claiming right now are
   * skipped, not waited for (SKIP LOCKED), so controllers never block each other. Returns the ids
   * it holds, oldest job first.
   */
  async claimJobs(owner: string, nowMs: number, untilMs: number, limit: number): Promise<JobId[]> {
    let pick = this.db
      .selectFrom("jobs")
      .select("id")
      .where("state", "not in", TERMINAL)
      .where((eb) => eb.or([eb("lease_owner", "is", null), eb("lease_owner", "=", owner), eb("lease_expires_at", "<", nowMs)]))
      .orderBy("created_at")
      .limit(limit);
    // SQLite has one writer at a time: the update below is already exclusive there.
    if (this.shared) pick = pick.forUpdate().skipLocked();
    const rows = await this.db
      .updateTable("jobs")
      .set({ lease_owner: owner, lease_expires_at: untilMs })
      .where("id", "in", pick)
      .returning(["id", "created_at"])
      .execute();
    return rows.sort((a, b) => a.created_at - b.created_at).map((r) => JobId(r.id));
  }

  /** Give back every job `owner` holds, for another controller to take at once. */
  async releaseJobs(owner: string): Promise<void> {
    await this.db
      .updateTable("jobs")
      .set({ lease_owner: null, lease_expires_at: null })
      .where("lease_owner", "=", owner)
      .execute();
  }

  /** A setting of the store, written with `value` if it has none yet (the first writer wins). */
  async ensureSetting(name: string, value: string): Promise<string> {
    await this.db
      .insertInto("settings")
      .values({ name, value })
      .onConflict((oc) => oc.column("name").doNothing())
      .execute();
    const row = await this.db.selectFrom("settings").select("value").where("name", "=", name).executeTakeFirstOrThrow();
    return row.value;
  }

  /** Leases whose name starts with `prefix` and that have not run out. */
  async liveLeases(prefix: string, nowMs: number): Promise<{ name: string; owner: string; pid: number; host: string }[]> {
    return this.db
      .selectFrom("leases")
      .select(["name", "owner", "pid", "host"])
      .where("name", "like", `${prefix}%`)
      .where("expires_at", ">", nowMs)
      .execute();
  }

  async countActive(): Promise<number> {
    const r = await this.db
      .selectFrom("jobs")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("state", "not in", TERMINAL)
      .executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  async updateJob(id: JobId, patch: Partial<JobRow>): Promise<void> {
    await this.db.updateTable("jobs").set(patch).where("id", "=", id).execute();
  }

  async insertAttempt(a: AttemptRow): Promise<void> {
    await this.db.insertInto("attempts").values(attemptIn(a)).execute();
  }

  async attempt(jobId: JobId, idx: number): Promise<AttemptRow | undefined> {
    const r = await this.db
      .selectFrom("attempts")
      .selectAll()
      .where("job_id", "=", jobId)
      .where("idx", "=", idx)
      .executeTakeFirst();
    return r && attemptOut(r);
  }

  async attempts(jobId: JobId): Promise<AttemptRow[]> {
    return (await this.db.selectFrom("attempts").selectAll().where("job_id", "=", jobId).orderBy("idx").execute()).map(
      attemptOut,
    );
  }

  /** Every attempt not ended (the reaper's one read of what the live attempts own, instead of one per instance). */
  async openAttempts(): Promise<AttemptRow[]> {
    return (await this.db.selectFrom("attempts").selectAll().where("state", "!=", "ENDED").execute()).map(attemptOut);
  }

  /** The attempts of many jobs, by job and idx: one read per 500 jobs (a listing's, not the controller's). */
  async attemptsOfJobs(jobIds: readonly JobId[]): Promise<AttemptRow[]> {
    const rows = await inChunks(jobIds, (ids) =>
      this.db.selectFrom("attempts").selectAll().where("job_id", "in", ids).orderBy("job_id").orderBy("idx").execute(),
    );
    return rows.map(attemptOut);
  }

  /** The instances of many jobs, each job's by launch time, as `instances({ jobId })` gives them. */
  async instancesOfJobs(jobIds: readonly JobId[]): Promise<InstanceRow[]> {
    const rows = await inChunks(jobIds, (ids) =>
      this.db.selectFrom("instances").selectAll().where("job_id", "in", ids).orderBy("job_id").orderBy("launched_at").execute(),
    );
    return rows.map(instanceOut);
  }

  /** Events of these kinds for many jobs, each job's in sequence. */
  async eventsOfKindForJobs(jobIds: readonly JobId[], kinds: readonly string[]): Promise<EventRow[]> {
    if (kinds.length === 0) return [];
    const rows = await inChunks(jobIds, (ids) =>
      this.db
        .selectFrom("events")
        .selectAll()
        .where("job_id", "in", ids)
        .where("kind", "in", [...kinds])
        .orderBy("seq")
        .execute(),
    );
    return rows.map(eventOut);
  }

  async updateAttempt(jobId: JobId, idx: number, patch: Partial<AttemptRow>): Promise<void> {
    await this.db.updateTable("attempts").set(attemptIn(patch)).where("job_id", "=", jobId).where("idx", "=", idx).execute();
  }

  async upsertInstance(i: InstanceRow): Promise<void> {
    await this.db
      .insertInto("instances")
      .values(instanceIn(i))
      .onConflict((oc) => oc.column("id").doNothing())
      .execute();
  }

  async instances(opts: { jobId?: JobId; attempt?: number; live?: boolean } = {}): Promise<InstanceRow[]> {
    let q = this.db.selectFrom("instances").selectAll();
    if (opts.jobId) q = q.where("job_id", "=", opts.jobId);
    if (opts.attempt !== undefined) q = q.where("attempt", "=", opts.attempt);
    if (opts.live) q = q.where("ended_at", "is", null);
    return (await q.orderBy("launched_at").execute()).map(instanceOut);
  }

  async endInstance(id: string, at: number, reason: string): Promise<void> {
    await this.db
      .updateTable("instances")
      .set({ ended_at: at, end_reason: reason })
      .where("id", "=", id)
      .where("ended_at", "is", null)
      .execute();
  }

  /** Hand still-running instances to the job's next attempt (a partial recovery keeps its surviving nodes). */
  async carryInstances(ids: readonly string[], toAttempt: number): Promise<void> {
    if (ids.length === 0) return;
    await this.db
      .updateTable("instances")
      .set({ attempt: toAttempt })
      .where("id", "in", [...ids])
      .where("ended_at", "is", null)
      .execute();
  }

  async recordLaunched(rows: LaunchedRow[]): Promise<void> {
    if (rows.length === 0) return;
    await this.db
      .insertInto("launched")
      .values(rows)
      .onConflict((oc) => oc.column("id").doNothing())
      .execute();
  }

  /** Which provider holds each of these instances, as far as this store knows (managed or launched). */
  async providersOf(ids: string[]): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    if (ids.length === 0) return found;
    for (const r of await this.db.selectFrom("launched").select(["id", "provider"]).where("id", "in", ids).execute())
      found.set(r.id, r.provider);
    for (const r of await this.db.selectFrom("instances").select(["id", "provider"]).where("id", "in", ids).execute())
      found.set(r.id, r.provider);
    return found;
  }

  async endLaunched(ids: string[], at: number): Promise<void> {
    if (ids.length === 0) return;
    await this.db.updateTable("launched").set({ ended_at: at }).where("id", "in", ids).where("ended_at", "is", null).execute();
  }

  async appendEvent(jobId: JobId, at: number, event: JobEvent): Promise<void> {
    const { kind, ...data } = event;
    await this.db
      .insertInto("events")
      .values({ job_id: jobId, at, kind, data: JSON.stringify(data) })
      .execute();
  }

  async events(jobId: JobId, afterSeq = 0): Promise<EventRow[]> {
    const rows = await this.db
      .selectFrom("events")
      .selectAll()
      .where("job_id", "=", jobId)
      .where("seq", ">", afterSeq)
      .orderBy("seq")
      .execute();
    return rows.map(eventOut);
  }

  /** A job's events of the given kinds only, in order. */
  async eventsOfKind(jobId: JobId, kinds: readonly string[]): Promise<EventRow[]> {
    if (kinds.length === 0) return [];
    const rows = await this.db
      .selectFrom("events")
      .selectAll()
      .where("job_id", "=", jobId)
      .where("kind", "in", [...kinds])
      .orderBy("seq")
      .execute();
    return rows.map(eventOut);
  }

  /**
   * Take or renew a named lease. A lease is free when it expired or its holder's process is gone
   * (same host), so a `kill -9`ed controller is replaced at once rather than after the expiry.
   *
   * No transaction: the lease is read, judged (the holder's pid is looked at here, outside the
   * database), then written by one statement that succeeds only if the row is still the one that
   * was read (compare and swap). Whoever changed it in between wins; nothing waits on a lock
   * across the read and the write, so a command committing meanwhile cannot fail the renewal.
   */
  async acquireLease(
    name: string,
    owner: string,
    ttlMs: number,
    now: number,
    isAlive: (pid: number) => boolean,
  ): Promise<boolean> {
    const cur = await this.lease(name);
    const host = hostname();
    const free = !cur || cur.owner === owner || cur.expires_at < now || (cur.host === host && !isAlive(cur.pid));
    if (!free) return false;
    const row = { name, owner, pid: process.pid, host, expires_at: now + ttlMs };
    if (!cur) {
      const r = await this.db
        .insertInto("leases")
        .values(row)
        .onConflict((oc) => oc.column("name").doNothing())
        .executeTakeFirst();
      return Number(r.numInsertedOrUpdatedRows ?? 0) === 1;
    }
    const r = await this.db
      .updateTable("leases")
      .set(row)
      .where("name", "=", name)
      .where("owner", "=", cur.owner)
      .where("expires_at", "=", cur.expires_at)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  async lease(name: string): Promise<{ owner: string; pid: number; host: string; expires_at: number } | undefined> {
    return this.db.selectFrom("leases").selectAll().where("name", "=", name).executeTakeFirst();
  }

  async releaseLease(name: string, owner: string): Promise<void> {
    await this.db.deleteFrom("leases").where("name", "=", name).where("owner", "=", owner).execute();
  }
}

/** Ids bound 500 at a time: well under SQLite's and PostgreSQL's limits on bound parameters. */
async function inChunks<T>(ids: readonly string[], read: (chunk: string[]) => Promise<T[]>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < ids.length; i += 500) out.push(...(await read(ids.slice(i, i + 500))));
  return out;
}

export const isTerminalState = (s: string): boolean => TERMINAL_STATES.has(s as JobState);
export type { Db };
