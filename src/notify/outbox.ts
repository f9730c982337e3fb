import type { NotifyOutboxTable } from "../state/schema.js";
import type { StateStore } from "../state/state-store.js";

export type OutboxRow = NotifyOutboxTable;
const CURSOR = "notify_cursor";

/** The notification outbox in the state store: filled from the event log, emptied by deliveries. */
export class Outbox {
  constructor(private readonly store: StateStore) {}

  /** The last event sequence number turned into notifications; undefined before the first scan ever. */
  async cursor(): Promise<number | undefined> {
    const r = await this.store.db.selectFrom("settings").select("value").where("name", "=", CURSOR).executeTakeFirst();
    return r ? Number(r.value) : undefined;
  }

  /** Add deliveries (a delivery id already there is left as it is: two scans of one event add it once) and move the cursor. */
  async enqueue(rows: OutboxRow[], cursor: number): Promise<void> {
    await this.store.db.transaction().execute(async (tx) => {
      for (const r of rows)
        await tx
          .insertInto("notify_outbox")
          .values(r)
          .onConflict((oc) => oc.column("id").doNothing())
          .execute();
      await tx
        .insertInto("settings")
        .values({ name: CURSOR, value: String(cursor) })
        .onConflict((oc) => oc.column("name").doUpdateSet({ value: String(cursor) }))
        .execute();
    });
  }

  /** Deliveries whose time has come and that no one holds. */
  async due(now: number, limit: number, skip: ReadonlySet<string>): Promise<OutboxRow[]> {
    const rows = await this.store.db
      .selectFrom("notify_outbox")
      .selectAll()
      .where("delivered_at", "is", null)
      .where("failed_at", "is", null)
      .where("next_at", "<=", now)
      .where("claimed_until", "<", now)
      .orderBy("next_at")
      .limit(limit + skip.size)
      .execute();
    return rows.filter((r) => !skip.has(r.id)).slice(0, limit);
  }

  /** Hold a delivery until `until`; false if another controller holds it (or it is done). */
  async claim(id: string, now: number, until: number): Promise<boolean> {
    const r = await this.store.db
      .updateTable("notify_outbox")
      .set({ claimed_until: until })
      .where("id", "=", id)
      .where("claimed_until", "<", now)
      .where("delivered_at", "is", null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  async delivered(id: string, at: number, attempts: number): Promise<void> {
    await this.store.db
      .updateTable("notify_outbox")
      .set({ delivered_at: at, attempts, claimed_until: 0, last_error: null })
      .where("id", "=", id)
      .execute();
  }

  async failed(id: string, attempts: number, error: string, next: { retryAt: number } | { gaveUpAt: number }): Promise<void> {
    await this.store.db
      .updateTable("notify_outbox")
      .set({
        attempts,
        last_error: error.slice(0, 500),
        claimed_until: 0,
        ...("retryAt" in next ? { next_at: next.retryAt } : { failed_at: next.gaveUpAt }),
      })
      .where("id", "=", id)
      .execute();
  }

  /** Whether a delivery is waiting that is due within `withinMs`. */
  async pendingWithin(now: number, withinMs: number): Promise<boolean> {
    const r = await this.store.db
      .selectFrom("notify_outbox")
      .select("id")
      .where("delivered_at", "is", null)
      .where("failed_at", "is", null)
      .where("next_at", "<=", now + withinMs)
      .limit(1)
      .executeTakeFirst();
    return r !== undefined;
  }

  /** When a job's last cost report was queued (0 for never). */
  async lastCostReport(jobId: string): Promise<number> {
    const r = await this.store.db
      .selectFrom("notify_outbox")
      .select((eb) => eb.fn.max("created_at").as("at"))
      .where("job_id", "=", jobId)
      .where("kind", "=", "cost_report")
      .executeTakeFirst();
    return Number(r?.at ?? 0);
  }

  /** Every delivery of a job (newest last), for `spotrun events`-like views and tests. */
  async ofJob(jobId: string): Promise<OutboxRow[]> {
    return this.store.db.selectFrom("notify_outbox").selectAll().where("job_id", "=", jobId).orderBy("created_at").execute();
  }
}
