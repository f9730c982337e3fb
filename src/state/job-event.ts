/**
 * The append-only record of everything that happened to a job. Status, logs, cost and
 * the dashboard are views over these. One union, tagged with `kind`.
 */
export type JobEvent =
  | { kind: "job_submitted"; name: string }
  | { kind: "state_changed"; from: string; to: string; reason?: string }
  | { kind: "attempt_started"; attempt: number; spot: boolean; instance_type: string; fallback?: boolean }
  | { kind: "instance_launched"; attempt: number; instance_id: string; spot: boolean; price_usd_per_hour: number; zone?: string }
  | { kind: "instance_ended"; attempt: number; instance_id: string; reason: string }
  /** A node that survived the last attempt's partial loss and runs this one too (recovery.partial). */
  | { kind: "instance_kept"; attempt: number; instance_id: string; node: number }
  | { kind: "launch_refused"; attempt: number; code: string; message: string; spot: boolean }
  | { kind: "fallback_on_demand"; attempt: number; code: string }
  | { kind: "agent_started"; attempt: number }
  /** One node's bootstrap: how it got Node (image, cached, downloaded, uploaded), the agent's hash, and each step's time. */
  | {
      kind: "bootstrapped";
      attempt: number;
      node: number;
      instance_id: string;
      node_source: "image" | "cached" | "downloaded" | "uploaded";
      node_version: string;
      node_ms: number;
      node_bytes: number;
      node_detail?: string;
      agent_sha256: string;
      agent_bytes: number;
      agent_uploaded: boolean;
      agent_ms: number;
      workdir_ms: number;
      start_ms: number;
      total_ms: number;
    }
  | { kind: "restored"; attempt: number; generation: string | null; ms: number }
  | { kind: "setup_done"; attempt: number; ms: number; exit_code: number; node?: number }
  | { kind: "run_started"; attempt: number; restart: boolean; node?: number }
  | { kind: "notice"; attempt: number; action: string; time: string; source: string; seen_at: string }
  | { kind: "hook_ran"; attempt: number; ms: number; outcome: "ok" | "failed" | "timeout" | "none"; exit_code?: number | null }
  | {
      kind: "checkpoint_uploaded";
      attempt: number;
      generation: string;
      bytes: number;
      files: number;
      ms: number;
      reason: string;
      progress?: number;
    }
  | { kind: "checkpoint_stalled"; attempt: number; since_ms: number }
  /** An upload of a generation failed: `cause` is the store's own reason. `status` shows it until an upload succeeds again. */
  | { kind: "checkpoint_failed"; attempt: number; cause: string }
  | { kind: "run_exited"; attempt: number; exit_code: number | null; signal?: string | null; node?: number }
  | { kind: "attempt_ended"; attempt: number; end: string; detail?: string }
  | { kind: "budget_warning"; spent_usd: number; max_cost_usd: number }
  | { kind: "budget_exceeded"; spent_usd: number; max_cost_usd: number }
  | { kind: "reaped"; instance_id: string; reason: string }
  | { kind: "rebalance"; attempt: number; source: string }
  | { kind: "prelaunched"; attempt: number; instance_ids: string[] }
  /**
   * recovery.replace_on_notice: the next attempt's instances, launched on the notice while the old one works
   * (`resumed`: taken over by a controller started after the one that launched them was killed).
   */
  | { kind: "replacement_launched"; attempt: number; instance_ids: string[]; spot: boolean; resumed?: boolean }
  /** The replacement's agent started (setup running on it). */
  | { kind: "replacement_setting_up"; attempt: number }
  /** The replacement finished setup and waits for the go; the old trainer is asked to stop. */
  | { kind: "replacement_ready"; attempt: number }
  /** The recovery took the warm replacement and told it to go. */
  | { kind: "replacement_adopted"; attempt: number; instance_ids: string[] }
  /** The replacement was given up (reclaimed itself, refused, setup failed, not adopted) and its instances ended. */
  | { kind: "replacement_abandoned"; attempt: number; reason: string; preempted?: boolean }
  | { kind: "cancel_requested" }
  | { kind: "warning"; message: string }
  | {
      kind: "placement_decision";
      choice: string;
      rule: string;
      current: string;
      work_done_ms: number;
      deadline: string;
      restart_overhead_ms: number;
      /** On a ticked market (a replayed trace): the market's tick, the job's own count, and whether its spot was reclaimed at it. */
      tick?: number;
      job_tick?: number;
      reclaimed?: boolean;
    }
  | { kind: "session_step"; attempt: number; step: string; ms: number; detail?: string }
  /** On a shared store: a controller took the job (first claim, or after its holder's lease ran out). */
  | { kind: "leased"; controller: string };

export type JobEventKind = JobEvent["kind"];
