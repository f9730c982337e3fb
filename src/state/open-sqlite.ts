import { join } from "node:path";
import SQLite from "better-sqlite3";
import { Kysely, Migrator, SqliteDialect } from "kysely";
import { ensurePrivateDir, ensurePrivateFile } from "../base/private-dir.js";
import { migrationProvider } from "./migrations.js";
import type { Database } from "./schema.js";

/**
 * The embedded store: one SQLite file under $SPOTRUN_HOME in WAL mode with synchronous=FULL, so a
 * `kill -9` at any moment loses nothing a committed transaction acknowledged.
 */
export async function openSqlite(home: string): Promise<Kysely<Database>> {
  // The store holds the tasks' envs: owner only. SQLite gives its -wal and -shm files the mode of the database.
  ensurePrivateDir(home);
  const file = join(home, "state.db");
  ensurePrivateFile(file);
  const sqlite = new SQLite(file);
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("synchronous = FULL");
  sqlite.pragma("busy_timeout = 10000");
  sqlite.pragma("foreign_keys = ON");
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  const { error } = await new Migrator({ db, provider: migrationProvider }).migrateToLatest();
  if (error) throw error;
  return db;
}
