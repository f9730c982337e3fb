import { JobId } from "../base/ids.js";
import type { EventRow, StateStore } from "./state-store.js";

/**
 * Reads across every job, for the views that watch the whole store (metrics, notifications, the
 * dashboard's live updates): they keep a cursor on the event log's sequence and read what is new.
 */
export async function eventsAfter(store: StateStore, afterSeq: number, limit = 5000): Promise<EventRow[]> {
  const rows = await store.db.selectFrom("events").selectAll().where("seq", ">", afterSeq).orderBy("seq").limit(limit).execute();
  return rows.map((r) => ({ ...r, job_id: JobId(r.job_id), seq: Number(r.seq), at: Number(r.at) }));
}

/** The newest event's sequence number (0 for an empty log): it moves whenever anything happens. */
export async function lastEventSeq(store: StateStore): Promise<number> {
  const r = await store.db
    .selectFrom("events")
    .select((eb) => eb.fn.max("seq").as("seq"))
    .executeTakeFirst();
  return Number(r?.seq ?? 0);
}

/** How many jobs are in each state. */
export async function jobCountsByState(store: StateStore): Promise<Record<string, number>> {
  const rows = await store.db
    .selectFrom("jobs")
    .select(["state", (eb) => eb.fn.countAll<number>().as("n")])
    .groupBy("state")
    .execute();
  return Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]));
}
