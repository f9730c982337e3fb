/** The shapes the dashboard's API returns (see src/api): only the fields the pages read. */
export interface Job {
  id: string;
  name: string;
  state: string;
  message: string | null;
  provider: string;
  submitted_at: string;
  ended_at: string | null;
  duration_seconds: number;
  attempts: number;
  preemptions: number;
  array_id: string | null;
  current_attempt: { number: number; spot: boolean; instance_type: string; instance_ids: string[] } | null;
  cost_usd: number;
  on_demand_baseline_usd: number;
  savings_usd: number;
  savings_pct: number;
  checkpoint_store: string;
}

export interface Attempt {
  number: number;
  spot: boolean;
  instance_type: string;
  instances: { id: string; zone: string | null; price_usd_per_hour: number }[];
  started_at: string;
  ended_at: string | null;
  duration_seconds: number;
  end: string | null;
  detail: string | null;
  preempted: boolean;
  notice: { at: string; action: string; interruption_time: string; seen_at: string } | null;
  hook: { outcome: string; ms: number } | null;
  checkpoints: { at: string; generation: string; bytes: number; files: number; ms: number; reason: string }[];
  recovery_seconds: number | null;
  cost_usd: number;
}

export interface JobDetail {
  job: Job;
  timeline: {
    attempts: Attempt[];
    preemptions: number;
    events: { seq: number; at: string; kind: string; text: string | null }[];
  };
}

export interface Instance {
  id: string;
  job_id: string;
  managed: boolean;
  attempt: number;
  provider: string;
  instance_type: string;
  zone: string | null;
  spot: boolean;
  price_usd_per_hour: number;
  launched_at: string;
  ended_at: string | null;
  end_reason: string | null;
  age_seconds: number;
  cost_usd: number;
}

export interface Session {
  name: string;
  state: string;
  instance_id: string | null;
  uptime_seconds: number | null;
  interruptions: number;
  cost_usd: number;
}

export interface CostDoc {
  total: { cost_usd: number; on_demand_baseline_usd: number; savings_usd: number; savings_pct: number };
  jobs: { id: string; name: string; state: string; cost_usd: number; on_demand_baseline_usd: number; savings_usd: number }[];
  series: { at: string; cost_usd: number; on_demand_baseline_usd: number }[];
}
