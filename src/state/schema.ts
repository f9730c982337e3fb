import type { Generated } from "kysely";
import type { AttemptState, JobDesire, JobState } from "./job-states.js";

/** Row shapes of the state store; the same in SQLite and PostgreSQL. Times are ms since epoch. */
export interface JobsTable {
  id: string;
  name: string;
  task_json: string;
  /** Where relative paths in the task (workdir, hook) resolve on this machine. */
  base_dir: string;
  state: JobState;
  desired: JobDesire;
  created_at: number;
  updated_at: number;
  ended_at: number | null;
  /** Index of the current (or last) attempt; -1 before the first. */
  attempt: number;
  preemptions: number;
  error_restarts: number;
  launch_failures: number;
  /** Spot launches this job asked for so far (the local market schedules by it). */
  spot_requests: number;
  store_url: string;
  message: string | null;
  array_id: string | null;
  array_index: number | null;
  budget_warned: number;
  /** Earliest time the controller may try the next launch (backoff after a refusal). */
  not_before: number;
  log_bytes: number;
  policy_json: string | null;
  /** On a shared (PostgreSQL) store: the controller that holds the job, and until when. */
  lease_owner?: string | null;
  lease_expires_at?: number | null;
}

export interface AttemptsTable {
  job_id: string;
  idx: number;
  state: AttemptState;
  spot: number;
  instance_type: string;
  started_at: number;
  ended_at: number | null;
  end_kind: string | null;
  end_detail: string | null;
  /** Byte offsets into the agent's event and log files already ingested. */
  events_offset: number;
  log_offset: number;
  agent_started: number;
  notice_at: number | null;
  last_heartbeat: number | null;
  stop_reason: string | null;
}

export interface InstancesTable {
  id: string;
  job_id: string;
  /** The attempt it ran; SPARE_ATTEMPT for a spare no attempt took (a warm replacement given up), kept for its cost. */
  attempt: number;
  node: number;
  provider: string;
  instance_type: string;
  zone: string | null;
  /** Where the provider says it ran (rows from before migration 0008 have none). */
  region?: string | null;
  spot: number;
  price_per_hour: number;
  od_price_per_hour: number;
  launched_at: number;
  ended_at: number | null;
  end_reason: string | null;
  address: string | null;
}

export interface EventsTable {
  seq: Generated<number>;
  job_id: string;
  at: number;
  kind: string;
  data: string;
}

export interface LeasesTable {
  name: string;
  owner: string;
  pid: number;
  host: string;
  expires_at: number;
}

/** Facts about the store itself, such as the id every instance it launches is tagged with. */
export interface SettingsTable {
  name: string;
  value: string;
}

/** An instance `spotrun launch` started: which provider holds it (a managed job's are in `instances`). */
export interface LaunchedTable {
  id: string;
  provider: string;
  /** The launch's id (what its instances are tagged with). */
  launch_id: string;
  array_name: string | null;
  launched_at: number;
  ended_at: number | null;
}

/** A notification to deliver (or delivered): one event for one target. `id` is the delivery id the receiver sees. */
export interface NotifyOutboxTable {
  id: string;
  job_id: string;
  kind: string;
  target_json: string;
  payload_json: string;
  created_at: number;
  attempts: number;
  next_at: number;
  /** A controller delivering it now holds it until then (several may share a team's store). */
  claimed_until: number;
  delivered_at: number | null;
  failed_at: number | null;
  last_error: string | null;
}

export interface Database {
  jobs: JobsTable;
  attempts: AttemptsTable;
  instances: InstancesTable;
  events: EventsTable;
  leases: LeasesTable;
  settings: SettingsTable;
  launched: LaunchedTable;
  notify_outbox: NotifyOutboxTable;
}

/** The `attempt` of an instance row that no attempt ran: a spare (a warm replacement) given up, recorded for its cost. */
export const SPARE_ATTEMPT = -1;
