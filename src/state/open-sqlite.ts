import { mkdirSync } from "node:fs";
import { join } from "node:path";
import SQLite from "better-sqlite3";
import { Kysely, Migrator, SqliteDialect } from "kysely";
import { migrationProvider } from "./migrations.js";
import type { Database } from "./schema.js";

/**
 * The embedded store: one SQLite file under $SPOTRUN_HOME in WAL mode with synchronous=FULL, so a
 * `kill -9` at any moment loses nothing a committed transaction acknowledged.
 */
export async function openSqlite(home: string): Promise<Kysely<Database>> {
  mkdirSync(home, { recursive: true });
  const sqlite = new SQLite(join(home, "state.db"));
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("synchronous = FULL");
  sqlite.pragma("busy_timeout = 10000");
  sqlite.pragma("foreign_keys = ON");
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  const { error } = await new Migrator({ db, provider: migrationProvider }).migrateToLatest();
  if (error) throw error;
  return db;
}
