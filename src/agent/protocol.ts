import { z } from "zod";

/**
 * The contract between controller and agent: files in a state directory on the instance. The
 * controller writes the config (and a control request); the agent appends events, the user's log
 * and a heartbeat. The controller pulls them over the transport; the agent never reaches out.
 */
export const AGENT_DIR = ".spotrun";
/** The file in the checkpoint directory where a trainer may record the fraction of its work done (0–1). */
export const PROGRESS_FILE = "PROGRESS";
export const agentPaths = (dir = AGENT_DIR) => ({
  config: `${dir}/agent.json`,
  events: `${dir}/events.jsonl`,
  log: `${dir}/run.log`,
  heartbeat: `${dir}/heartbeat`,
  control: `${dir}/control.json`,
  stderr: `${dir}/agent.err`,
});

export const agentConfigSchema = z.object({
  version: z.literal(1),
  job_id: z.string(),
  attempt: z.number().int(),
  restart_count: z.number().int(),
  node: z.number().int(),
  num_nodes: z.number().int(),
  coordinator_address: z.string().optional(),
  master_port: z.number().int().optional(),
  workdir: z.string(),
  setup: z.string().optional(),
  run: z.string(),
  envs: z.record(z.string(), z.string()),
  checkpoint: z.object({
    dir: z.string(),
    store_url: z.string(),
    hook: z.string().optional(),
    hook_timeout_ms: z.number(),
    stall_warning_ms: z.number(),
    resume_arg: z.string().optional(),
    /** A store URL ending in a generation: restored when the job's own store has none yet (a manual resume). */
    resume_from: z.string().optional(),
    keep: z.number().int(),
    /** Only one node uploads generations (node 0); the others still stop cleanly. */
    upload: z.boolean(),
  }),
  notice: z.object({
    source: z.enum(["aws-imds", "gce-metadata", "none"]),
    poll_ms: z.number().default(250),
  }),
});
export type AgentConfig = z.infer<typeof agentConfigSchema>;

export type AgentOutcome = "succeeded" | "failed" | "setup_failed" | "preempted" | "stopped" | "agent_error";

/** One line of `events.jsonl`. `at` is ms since epoch on the instance's clock. */
export type AgentEvent = { at: number } & (
  | { kind: "agent_started"; pid: number }
  | { kind: "restored"; generation: string | null; ms: number }
  | { kind: "setup_done"; exit_code: number; ms: number }
  | { kind: "run_started"; restart: boolean; pid: number }
  | { kind: "notice"; action: string; time: number; source: string; seen_at: number }
  | { kind: "rebalance"; source: string }
  | { kind: "hook_ran"; outcome: "ok" | "failed" | "timeout" | "none"; exit_code: number | null; ms: number }
  | {
      kind: "checkpoint_uploaded";
      generation: string;
      bytes: number;
      files: number;
      ms: number;
      reason: string;
      /** The fraction of the work done at this checkpoint, when the trainer writes $SPOT_PROGRESS_FILE. */
      progress?: number;
    }
  | { kind: "checkpoint_failed"; message: string }
  | { kind: "checkpoint_stalled"; since_ms: number }
  | { kind: "run_exited"; exit_code: number | null; signal: string | null }
  | { kind: "warning"; message: string }
  /** Written by programs the agent runs (the session supervisor): one timed step of a save or a restore. */
  | { kind: "session_step"; step: string; ms: number; detail?: string }
  | { kind: "agent_exit"; outcome: AgentOutcome; exit_code?: number | null; generation?: string | null; message?: string }
);

export type ControlRequest = { action: "checkpoint-and-stop"; reason: string };

/** Parse appended bytes into complete events; a torn last line waits for the next read. */
export function parseEventLines(chunk: string): { events: AgentEvent[]; consumed: number } {
  const events: AgentEvent[] = [];
  let consumed = 0;
  for (;;) {
    const nl = chunk.indexOf("\n", consumed);
    if (nl < 0) break;
    const line = chunk.slice(consumed, nl);
    consumed = nl + 1;
    if (!line.trim()) continue;
    try {
      events.push(JSON.parse(line) as AgentEvent);
    } catch {
      // A line we cannot read is skipped, never fatal.
    }
  }
  return { events, consumed: Buffer.byteLength(chunk.slice(0, consumed)) };
}
