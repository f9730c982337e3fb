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
    /**
     * A replacement is being readied elsewhere (recovery.replace_on_notice): on an interruption
     * notice keep the trainer working, and stop it when the controller asks (`checkpoint-and-stop`)
     * or when only the stop budget is left before the deadline, whichever comes first.
     */
    defer_stop: z.boolean().optional(),
  }),
  /**
   * A warm replacement: run setup, then wait for the controller's `go` before restoring the newest
   * generation and starting the run (the old instance is still writing it).
   */
  wait_for_go: z.boolean().optional(),
});
export type AgentConfig = z.infer<typeof agentConfigSchema>;

const outcomeSchema = z.enum(["succeeded", "failed", "setup_failed", "preempted", "stopped", "agent_error"]);
export type AgentOutcome = z.infer<typeof outcomeSchema>;

const event = <K extends string, S extends z.ZodRawShape>(kind: K, shape: S) =>
  z.object({ at: z.number(), kind: z.literal(kind), ...shape });
const nullableInt = z.number().int().nullable();

/**
 * One line of `events.jsonl`, one schema per kind. `at` is ms since epoch on the instance's clock.
 * Fields an agent adds later are dropped, not refused, so a newer agent still speaks to this controller.
 */
export const agentEventSchema = z.discriminatedUnion("kind", [
  event("agent_started", { pid: z.number().int() }),
  event("restored", { generation: z.string().nullable(), ms: z.number() }),
  event("setup_done", { exit_code: z.number().int(), ms: z.number() }),
  /** A warm replacement finished its setup and waits for the controller's `go`. */
  event("waiting_for_go", {}),
  /** The `go` arrived after this long waiting. */
  event("go", { waited_ms: z.number() }),
  event("run_started", { restart: z.boolean(), pid: z.number().int() }),
  event("notice", { action: z.string(), time: z.number(), source: z.string(), seen_at: z.number() }),
  event("rebalance", { source: z.string() }),
  event("hook_ran", { outcome: z.enum(["ok", "failed", "timeout", "none"]), exit_code: nullableInt, ms: z.number() }),
  event("checkpoint_uploaded", {
    generation: z.string(),
    bytes: z.number(),
    files: z.number().int(),
    ms: z.number(),
    reason: z.string(),
    /** The fraction of the work done at this checkpoint, when the trainer writes $SPOT_PROGRESS_FILE. */
    progress: z.number().optional(),
  }),
  event("checkpoint_failed", { message: z.string() }),
  event("checkpoint_stalled", { since_ms: z.number() }),
  event("run_exited", { exit_code: nullableInt, signal: z.string().nullable() }),
  event("warning", { message: z.string() }),
  /** Written by programs the agent runs (the session supervisor): one timed step of a save or a restore. */
  event("session_step", { step: z.string(), ms: z.number(), detail: z.string().optional() }),
  event("agent_exit", {
    outcome: outcomeSchema,
    exit_code: nullableInt.optional(),
    generation: z.string().nullable().optional(),
    message: z.string().optional(),
  }),
]);
export type AgentEvent = z.infer<typeof agentEventSchema>;
export type AgentEventKind = AgentEvent["kind"];
const KNOWN_KINDS: ReadonlySet<string> = new Set(agentEventSchema.options.map((o) => o.shape.kind.value));

/**
 * What the controller asks of the agent, in `control.json` (the last request wins). `go`: a warm
 * replacement may restore and start; an agent not waiting ignores it.
 */
export type ControlRequest = { action: "checkpoint-and-stop"; reason: string } | { action: "go" };

export interface ParsedEventLines {
  /** The complete lines that are events this controller knows, in order. */
  events: AgentEvent[];
  /** Bytes of complete lines read (events, blank, unknown and malformed alike): where the next read starts. */
  consumed: number;
  /** Kinds this controller does not know (a newer agent's), one per line: skipped on purpose, nothing to log per line. */
  unknown: string[];
  /** Lines that are not an event (torn JSON, wrong field types): skipped; the caller logs them. */
  malformed: { offset: number; problem: string }[];
}

const NL = 0x0a;
const MAX_PROBLEM = 200;

/**
 * Parse appended bytes into complete events; a torn last line waits for the next read. Bytes
 * are counted as bytes (a line with invalid UTF-8 still moves the offset by its own length).
 * A line that is not a known event is skipped, so a bad line is read once, never again.
 */
export function parseEventLines(chunk: Uint8Array | string): ParsedEventLines {
  const bytes =
    typeof chunk === "string" ? Buffer.from(chunk, "utf8") : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  const out: ParsedEventLines = { events: [], consumed: 0, unknown: [], malformed: [] };
  for (;;) {
    const nl = bytes.indexOf(NL, out.consumed);
    if (nl < 0) break;
    const offset = out.consumed;
    const line = bytes.toString("utf8", offset, nl);
    out.consumed = nl + 1;
    if (!line.trim()) continue;
    const read = readEvent(line);
    if (read.kind === "event") out.events.push(read.event);
    else if (read.kind === "unknown") out.unknown.push(read.eventKind);
    else out.malformed.push({ offset, problem: read.problem });
  }
  return out;
}

type LineRead =
  | { kind: "event"; event: AgentEvent }
  | { kind: "unknown"; eventKind: string }
  | { kind: "malformed"; problem: string };

function readEvent(line: string): LineRead {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    // Not JSON.parse's message: it quotes the line, and a line may carry what a log must not.
    return { kind: "malformed", problem: `not JSON (${Buffer.byteLength(line)} bytes)` };
  }
  const kind = typeof value === "object" && value !== null ? (value as { kind?: unknown }).kind : undefined;
  if (typeof kind !== "string") return { kind: "malformed", problem: "no kind" };
  if (!KNOWN_KINDS.has(kind)) return { kind: "unknown", eventKind: kind.slice(0, 64) };
  const parsed = agentEventSchema.safeParse(value);
  if (parsed.success) return { kind: "event", event: parsed.data };
  const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(event)"}: ${i.message}`).join("; ");
  return { kind: "malformed", problem: `${kind}: ${issues}`.slice(0, MAX_PROBLEM) };
}
