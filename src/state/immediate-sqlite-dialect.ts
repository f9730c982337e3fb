import {
  CompiledQuery,
  type DatabaseConnection,
  type DialectAdapter,
  type Driver,
  SqliteAdapter,
  SqliteDialect,
  type SqliteDialectConfig,
  SqliteDriver,
} from "kysely";

/**
 * SQLite shared by several processes (the controller, the user's commands, first starts at the
 * same moment):
 * - Every transaction begins as `BEGIN IMMEDIATE`, taking the write lock first and waiting for it
 *   under busy_timeout. A plain (deferred) `BEGIN` reads first and asks for the write lock at its
 *   first write; when another process committed in between, SQLite refuses that upgrade at once
 *   with SQLITE_BUSY (the snapshot is stale), which no busy_timeout waits out.
 * - Migrations run in one such transaction. Kysely's SQLite adapter says DDL is not
 *   transactional (it is, in SQLite) and takes no migration lock, so two first starts each read
 *   "nothing applied" and both create the tables; in one immediate transaction the second waits,
 *   then reads what the first applied.
 */
export class ImmediateSqliteDialect extends SqliteDialect {
  constructor(private readonly config: SqliteDialectConfig) {
    super(config);
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.config);
  }

  override createAdapter(): DialectAdapter {
    return new TransactionalDdlSqliteAdapter();
  }
}

class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw("begin immediate"));
  }
}

class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}
