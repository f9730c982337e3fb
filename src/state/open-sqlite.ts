import { join } from "node:path";
import SQLite from "better-sqlite3";
import { Kysely, Migrator } from "kysely";
import { SpotrunError, usageError } from "../base/errors.js";
import { ensurePrivateDir, ensurePrivateFile } from "../base/private-dir.js";
import { ImmediateSqliteDialect } from "./immediate-sqlite-dialect.js";
import { migrationProvider } from "./migrations.js";
import type { Database } from "./schema.js";
import { withStatementCache } from "./statement-cache.js";

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
  makeHome(home);
  const file = join(home, "state.db");
  let sqlite: SQLite.Database;
  try {
    ensurePrivateFile(file);
    sqlite = new SQLite(file);
    // Before WAL mode: switching a fresh file to WAL needs the lock another first start may hold.
    sqlite.pragma(`busy_timeout = ${Math.max(0, Math.round(opts.busyTimeoutMs ?? 10_000))}`);
    sqlite.pragma("journal_mode = WAL");
    sqlite.pragma("synchronous = FULL");
    sqlite.pragma("foreign_keys = ON");
  } catch (e) {
    throw unusableStore(file, e);
  }
  const db = new Kysely<Database>({ dialect: new ImmediateSqliteDialect({ database: withStatementCache(sqlite) }) });
  if (await upToDate(sqlite)) return db;
  const { error } = await new Migrator({ db, provider: migrationProvider }).migrateToLatest();
  if (error) {
    await db.destroy();
    throw error;
  }
  return db;
}

/** The home is a directory we can make; a file in its place (or in a parent's) is the user's to move. */
/**
 * Whether this store has exactly the migrations this code knows, applied: one read. Every command
 * opens the store; the Migrator would take its lock in a write transaction each time, and with
 * synchronous = FULL that commit waits for the disk. A store that is behind (or ahead, which the
 * Migrator refuses) goes through the Migrator.
 */
async function upToDate(sqlite: SQLite.Database): Promise<boolean> {
  let applied: string[];
  try {
    applied = sqlite.prepare("SELECT name FROM kysely_migration").pluck().all() as string[];
  } catch {
    return false; // a new store: no migration table yet
  }
  const known = Object.keys(await migrationProvider.getMigrations());
  const have = new Set(applied);
  return applied.length === known.length && known.every((n) => have.has(n));
}

function makeHome(home: string): void {
  try {
    ensurePrivateDir(home);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EEXIST" || code === "ENOTDIR")
      throw usageError(
        `the spotrun home ${JSON.stringify(home)} is not a directory (a file is in the way)`,
        "point --home or SPOTRUN_HOME at a directory, or move the file",
        code,
      );
    if (code === "EACCES" || code === "EROFS" || code === "EPERM")
      throw usageError(`cannot create the spotrun home ${JSON.stringify(home)}`, "give --home a directory you can write", code);
    throw e;
  }
}

/** SQLite's own codes say why the file cannot be our store. */
function unusableStore(path: string, e: unknown): unknown {
  if (!(e instanceof SQLite.SqliteError)) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EISDIR" || code === "EACCES")
      return usageError(
        `cannot open the state store ${JSON.stringify(path)}`,
        "make it a file you can write, or point --home elsewhere",
        code,
      );
    return e;
  }
  if (e.code === "SQLITE_NOTADB" || e.code === "SQLITE_CORRUPT")
    return usageError(
      `the state store ${JSON.stringify(path)} is not a SQLite database (or is damaged)`,
      "move it aside (spotrun starts an empty one) or point --home at another directory",
      e.code,
    );
  if (e.code === "SQLITE_CANTOPEN" || e.code === "SQLITE_READONLY" || e.code === "SQLITE_PERM")
    return usageError(
      `cannot open the state store ${JSON.stringify(path)}`,
      "make it and its directory writable, or point --home elsewhere",
      e.code,
    );
  return new SpotrunError("failed", `cannot open the state store ${JSON.stringify(path)}: ${e.message}`, {
    code: e.code,
    cause: e,
  });
}
