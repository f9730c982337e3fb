import { Kysely, Migrator, PostgresDialect } from "kysely";
import pg from "pg";
import { migrationProvider } from "./migrations.js";
import type { Database } from "./schema.js";

// Times and offsets are bigint columns: milliseconds since the epoch fit a JS number exactly.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

/**
 * A team's store: one PostgreSQL database that every member's CLI and several controllers share.
 * Migrations run under an advisory lock (Kysely's Migrator takes one), so two first starts do not race.
 */
export async function openPostgres(url: string): Promise<Kysely<Database>> {
  const pool = new pg.Pool({ connectionString: url, max: 16, connectionTimeoutMillis: 10_000 });
  // An idle connection the server dropped (a restart, a failover) is discarded by the pool; the
  // next query opens a new one. Unhandled, the pool's error event would end the process.
  pool.on("error", () => {});
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  try {
    const { error } = await new Migrator({ db, provider: migrationProvider }).migrateToLatest();
    if (error) throw error;
  } catch (e) {
    await db.destroy();
    throw e;
  }
  return db;
}
