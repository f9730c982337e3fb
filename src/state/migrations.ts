import { type Kysely, type Migration, type MigrationProvider, PostgresAdapter } from "kysely";

/** The one difference between the dialects the schema meets: how a sequence column is declared. */
export const isPostgres = (db: Kysely<unknown>): boolean => db.getExecutor().adapter instanceof PostgresAdapter;

/**
 * Migrations are code, applied in name order inside a transaction by Kysely's Migrator; the same
 * statements run on SQLite and PostgreSQL (types chosen from what both accept, and a sequence
 * declared the way each dialect does).
 */
const m0001: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable("jobs")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("name", "text", (c) => c.notNull())
      .addColumn("task_json", "text", (c) => c.notNull())
      .addColumn("base_dir", "text", (c) => c.notNull())
      .addColumn("state", "text", (c) => c.notNull())
      .addColumn("desired", "text", (c) => c.notNull())
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .addColumn("updated_at", "bigint", (c) => c.notNull())
      .addColumn("ended_at", "bigint")
      .addColumn("attempt", "integer", (c) => c.notNull().defaultTo(-1))
      .addColumn("preemptions", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("error_restarts", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("launch_failures", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("spot_requests", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("store_url", "text", (c) => c.notNull())
      .addColumn("message", "text")
      .addColumn("array_id", "text")
      .addColumn("array_index", "integer")
      .addColumn("budget_warned", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("not_before", "bigint", (c) => c.notNull().defaultTo(0))
      .addColumn("log_bytes", "bigint", (c) => c.notNull().defaultTo(0))
      .addColumn("policy_json", "text")
      .execute();
    await db.schema.createIndex("jobs_state").on("jobs").column("state").execute();
    await db.schema.createIndex("jobs_array").on("jobs").column("array_id").execute();

    await db.schema
      .createTable("attempts")
      .addColumn("job_id", "text", (c) => c.notNull().references("jobs.id"))
      .addColumn("idx", "integer", (c) => c.notNull())
      .addColumn("state", "text", (c) => c.notNull())
      .addColumn("spot", "integer", (c) => c.notNull())
      .addColumn("instance_type", "text", (c) => c.notNull())
      .addColumn("started_at", "bigint", (c) => c.notNull())
      .addColumn("ended_at", "bigint")
      .addColumn("end_kind", "text")
      .addColumn("end_detail", "text")
      .addColumn("events_offset", "bigint", (c) => c.notNull().defaultTo(0))
      .addColumn("log_offset", "bigint", (c) => c.notNull().defaultTo(0))
      .addColumn("agent_started", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("notice_at", "bigint")
      .addColumn("last_heartbeat", "bigint")
      .addPrimaryKeyConstraint("attempts_pk", ["job_id", "idx"])
      .execute();

    await db.schema
      .createTable("instances")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("job_id", "text", (c) => c.notNull().references("jobs.id"))
      .addColumn("attempt", "integer", (c) => c.notNull())
      .addColumn("node", "integer", (c) => c.notNull())
      .addColumn("provider", "text", (c) => c.notNull())
      .addColumn("instance_type", "text", (c) => c.notNull())
      .addColumn("zone", "text")
      .addColumn("spot", "integer", (c) => c.notNull())
      .addColumn("price_per_hour", "double precision", (c) => c.notNull())
      .addColumn("od_price_per_hour", "double precision", (c) => c.notNull())
      .addColumn("launched_at", "bigint", (c) => c.notNull())
      .addColumn("ended_at", "bigint")
      .addColumn("end_reason", "text")
      .addColumn("address", "text")
      .execute();
    await db.schema.createIndex("instances_job").on("instances").columns(["job_id", "attempt"]).execute();

    await db.schema
      .createTable("events")
      .addColumn("seq", isPostgres(db) ? "serial" : "integer", (c) =>
        isPostgres(db) ? c.primaryKey() : c.primaryKey().autoIncrement(),
      )
      .addColumn("job_id", "text", (c) => c.notNull())
      .addColumn("at", "bigint", (c) => c.notNull())
      .addColumn("kind", "text", (c) => c.notNull())
      .addColumn("data", "text", (c) => c.notNull())
      .execute();
    await db.schema.createIndex("events_job").on("events").columns(["job_id", "seq"]).execute();

    await db.schema
      .createTable("leases")
      .addColumn("name", "text", (c) => c.primaryKey())
      .addColumn("owner", "text", (c) => c.notNull())
      .addColumn("pid", "integer", (c) => c.notNull())
      .addColumn("host", "text", (c) => c.notNull())
      .addColumn("expires_at", "bigint", (c) => c.notNull())
      .execute();
  },
};

/** Why the controller asked an attempt's agent to stop (budget, cancel, changeover). */
const m0002: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable("attempts").addColumn("stop_reason", "text").execute();
  },
};

/** The deadline policy reads a few kinds of a job's events at every decision, not its whole history. */
const m0003: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.createIndex("events_job_kind").on("events").columns(["job_id", "kind", "seq"]).execute();
  },
};

/**
 * Several controllers on one PostgreSQL store share its jobs: each job is leased to one of them
 * at a time (claimed with SKIP LOCKED, renewed every pass, free again when the lease runs out).
 */
const m0004: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable("jobs").addColumn("lease_owner", "text").execute();
    await db.schema.alterTable("jobs").addColumn("lease_expires_at", "bigint").execute();
  },
};

/** The store's own facts; a shared store keeps its id here, so every controller tags launches alike. */
const m0005: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable("settings")
      .addColumn("name", "text", (c) => c.primaryKey())
      .addColumn("value", "text", (c) => c.notNull())
      .execute();
  },
};

/**
 * Instances `spotrun launch` started (no managed job owns them), so `terminate ID` knows the
 * provider without being told.
 */
const m0006: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable("launched")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("provider", "text", (c) => c.notNull())
      .addColumn("launch_id", "text", (c) => c.notNull())
      .addColumn("array_name", "text")
      .addColumn("launched_at", "bigint", (c) => c.notNull())
      .addColumn("ended_at", "bigint")
      .execute();
  },
};

/**
 * Notifications wait in an outbox until delivered (at least once, each with its delivery id), so a
 * controller that dies mid-delivery leaves them for the next one; the cursor on the event log that
 * fills it is a setting.
 */
const m0007: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable("notify_outbox")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("job_id", "text", (c) => c.notNull())
      .addColumn("kind", "text", (c) => c.notNull())
      .addColumn("target_json", "text", (c) => c.notNull())
      .addColumn("payload_json", "text", (c) => c.notNull())
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("next_at", "bigint", (c) => c.notNull())
      .addColumn("claimed_until", "bigint", (c) => c.notNull().defaultTo(0))
      .addColumn("delivered_at", "bigint")
      .addColumn("failed_at", "bigint")
      .addColumn("last_error", "text")
      .execute();
    await db.schema
      .createIndex("notify_outbox_due")
      .on("notify_outbox")
      .columns(["delivered_at", "failed_at", "next_at"])
      .execute();
  },
};

/**
 * Interruption history is read per pool (provider, type, zone): where an instance ran, to the
 * region (a Vast host's geolocation has no zone), and an index that keeps the read to the pools a
 * ranking asks about.
 */
const m0008: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable("instances").addColumn("region", "text").execute();
    await db.schema.createIndex("instances_pool").on("instances").columns(["provider", "instance_type", "zone"]).execute();
  },
};

export const migrations: Record<string, Migration> = {
  "0001_initial": m0001,
  "0002_attempt_stop_reason": m0002,
  "0003_events_by_kind": m0003,
  "0004_job_leases": m0004,
  "0005_settings": m0005,
  "0006_launched": m0006,
  "0007_notify_outbox": m0007,
  "0008_instance_region": m0008,
};

export const migrationProvider: MigrationProvider = { getMigrations: async () => migrations };
