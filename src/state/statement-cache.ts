import type SQLite from "better-sqlite3";
import type { SqliteDatabase, SqliteStatement } from "kysely";

/**
 * better-sqlite3 as Kysely's database, keeping prepared statements by their SQL. Kysely asks for a
 * new statement for every query it sends, and the controller sends the same few dozen texts
 * thousands of times a minute at scale: preparing them again was a third of its SQLite time.
 * Bounded (least recently used first out), as `in (?, ?, …)` lists of every length make many
 * texts. Kysely runs one query at a time on its one SQLite connection, so no statement is ever in
 * use twice at once; SQLite re-prepares a cached statement by itself after a schema change.
 */
export function withStatementCache(db: SQLite.Database, max = 256): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>();
  return {
    close: () => db.close(),
    prepare(sql: string): SqliteStatement {
      let stmt = cache.get(sql);
      if (stmt) {
        cache.delete(sql);
        cache.set(sql, stmt);
        return stmt;
      }
      stmt = db.prepare(sql) as unknown as SqliteStatement;
      cache.set(sql, stmt);
      if (cache.size > max) cache.delete(cache.keys().next().value as string);
      return stmt;
    },
  };
}
