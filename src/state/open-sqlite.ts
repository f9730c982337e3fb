import { join } from "node:path";
import SQLite from "better-sqlite3";
import { Kysely, Migrator } from "kysely";
import { ensurePrivateDir, ensurePrivateFile } from "../base/private-dir.js";
import { ImmediateSqliteDialect } from "./immediate-sqlite-dialect.js";
import { migrationProvider } from "./migrations.js";
import type { Database } from "./schema.js";

export interface SqliteOptions {
  /** How long a statement waits for another process's write lock before SQLITE_BUSY. */
  busyTimeoutMs?: number;
}

/**
 * The embedded store: one SQLite file under $SPOTRUN_HOME in WAL mode with synchronous=FULL, so a
 * `kill -9` at any moment loses nothing a committed transaction acknowledged. Several processes
 * (the controller, the user's commands) share it: transactions take the write lock up front (see
 * ImmediateSqliteDialect), and single statements wait for it under busy_timeout.
 */
export async function openSqlite(home: string, opts: SqliteOptions = {}): Promise<Kysely<Database>> {
  // The store holds the tasks' envs: owner only. SQLite gives its -wal and -shm files the mode of the database.
  ensurePrivateDir(home);
  const file = join(home, "state.db");
  ensurePrivateFile(file);
  const sqlite = new SQLite(file);
  // Before WAL mode: switching a fresh file to WAL needs the lock another first start may hold.
  sqlite.pragma(`busy_timeout = ${Math.max(0, Math.round(opts.busyTimeoutMs ?? 10_000))}`);
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("synchronous = FULL");
  sqlite.pragma("foreign_keys = ON");
  const db = new Kysely<Database>({ dialect: new ImmediateSqliteDialect({ database: sqlite }) });
  const { error } = await new Migrator({ db, provider: migrationProvider }).migrateToLatest();
  if (error) {
    await db.destroy();
    throw error;
  }
  return db;
}
