import { existsSync } from "node:fs";
import { join } from "node:path";
import SQLite from "better-sqlite3";

/**
 * Read a home's SQLite store directly, read-only: what a test may look at while no spotrun
 * command runs (any command would start a controller, and a test that kills controllers must
 * choose when one starts).
 */
export function readStore<T>(home: string, fn: (db: SQLite.Database) => T, fallback: T): T {
  const file = join(home, "state.db");
  if (!existsSync(file)) return fallback;
  const db = new SQLite(file, { readonly: true, fileMustExist: true });
  try {
    db.pragma("busy_timeout = 5000");
    return fn(db);
  } catch (e) {
    // Before the first migration there is no table yet.
    if (/no such table/.test(String((e as Error).message))) return fallback;
    throw e;
  } finally {
    db.close();
  }
}

export interface StoredEvent {
  seq: number;
  kind: string;
  at: number;
  data: Record<string, unknown>;
}

export const storedEvents = (home: string, jobId: string): StoredEvent[] =>
  readStore(
    home,
    (db) =>
      (
        db.prepare("select seq, kind, at, data from events where job_id = ? order by seq").all(jobId) as (Omit<
          StoredEvent,
          "data"
        > & { data: string })[]
      ).map((e) => ({ ...e, data: JSON.parse(e.data) as Record<string, unknown> })),
    [],
  );

export interface StoredInstance {
  id: string;
  job_id: string;
  attempt: number;
  provider: string;
  launched_at: number;
  ended_at: number | null;
  end_reason: string | null;
}

export const storedInstances = (home: string, jobId?: string): StoredInstance[] =>
  readStore(
    home,
    (db) =>
      (jobId
        ? db
            .prepare(
              "select id, job_id, attempt, provider, launched_at, ended_at, end_reason from instances where job_id = ? order by launched_at",
            )
            .all(jobId)
        : db
            .prepare(
              "select id, job_id, attempt, provider, launched_at, ended_at, end_reason from instances order by launched_at",
            )
            .all()) as StoredInstance[],
    [],
  );

export const storedJob = (
  home: string,
  jobId: string,
): { id: string; state: string; attempt: number; preemptions: number; message: string | null } | undefined =>
  readStore(
    home,
    (db) => db.prepare("select id, state, attempt, preemptions, message from jobs where id = ?").get(jobId) as never,
    undefined,
  );

export const storedJobs = (home: string): { id: string; state: string; name: string }[] =>
  readStore(home, (db) => db.prepare("select id, state, name from jobs order by created_at").all() as never, []);

/** The single-store controller lease: who holds it, until when. */
export const storedLease = (home: string): { owner: string; pid: number; expires_at: number } | undefined =>
  readStore(
    home,
    (db) => db.prepare("select owner, pid, expires_at from leases where name = 'controller'").get() as never,
    undefined,
  );
