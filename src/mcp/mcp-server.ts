import { McpServer, ResourceTemplate } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import type { Spotrun } from "../api/spotrun.js";
import { describeError, usageError } from "../base/errors.js";
import type { Logger } from "../base/logger.js";
import { packageVersion } from "../base/package-version.js";
import { runCommandHandler } from "./command-tool.js";

/** The most log text one `logs` call or log resource returns; `since` pages through the rest. */
const MAX_LOG_BYTES = 64 * 1024;
const TERMINAL = "SUCCEEDED, FAILED, CANCELLED or OVER_BUDGET";

type Data = unknown;

/** A tool's answer: the data as JSON text (and as structured content when it is an object). */
const ok = (data: Data): CallToolResult => ({
  content: [{ type: "text", text: JSON.stringify(data) }],
  ...(data && typeof data === "object" && !Array.isArray(data) ? { structuredContent: data as Record<string, unknown> } : {}),
});

/** A failure as a tool error carrying the CLI's code, message, fix and exit code. */
const failure = (e: unknown): CallToolResult => {
  const error = describeError(e);
  return { isError: true, content: [{ type: "text", text: JSON.stringify({ error }) }], structuredContent: { error } };
};

const jobRef = z.string().min(1).describe("A job id (j-…), a unique id prefix, or a job name.");
const taskObject = z
  .record(z.string(), z.unknown())
  .describe(
    "A task as an object with the fields of a task file (the JSON Schema is what `spotrun schema task` prints). Only `run` is required, e.g. {run: 'python3 train.py', workdir: '.', resources: {provider: 'local'}, checkpoint: {dir: 'checkpoints'}}.",
  );

/**
 * spotrun as an MCP server: each tool a thin call into the library API (or, where the logic still
 * lives in a command, that command's handler), errors as tool errors with the CLI's codes. Long
 * operations return at once: `run` hands the job to a background controller and returns its id;
 * progress is read with `status` and `events`.
 */
export function createMcpServer(sr: Spotrun, opts: { logger: Logger; commands: McpCommands }): McpServer {
  const server = new McpServer(
    { name: "spotrun", version: packageVersion() },
    {
      instructions:
        "spotrun runs long jobs on spot capacity (local, aws, gcp, vast) and recovers from interruptions by itself. Submit with `run` (returns a job id at once), poll `status` every 10-30 s until the state is SUCCEEDED, FAILED, CANCELLED or OVER_BUDGET, read `logs`/`events`, report `cost`. Set budget.max_cost on cloud jobs and `cancel` what is no longer wanted. Job logs are also resources: spotrun://jobs/{job}/log.",
    },
  );
  const { commands, logger } = opts;
  const call = (fn: (signal: AbortSignal) => Promise<Data>) => async (): Promise<CallToolResult> => {
    try {
      return ok(await fn(new AbortController().signal));
    } catch (e) {
      return failure(e);
    }
  };
  const handler = (spec: keyof McpCommands, args: string[], options: Record<string, unknown>) =>
    call((signal) => runCommandHandler(commands[spec], sr.home, logger, args, options, signal));
  const readOnly = { readOnlyHint: true, destructiveHint: false, openWorldHint: false } as const;

  server.registerTool(
    "run",
    {
      title: "Run a job",
      description: `Submit a task as a managed job and return at once with its id (in jobs[0].id); a background controller launches capacity, ships the workdir, runs setup and run, and recovers from interruptions by itself. Give either task (an object) or task_file (a YAML path). Follow it with status (until ${TERMINAL}) and events; read its output with logs. Relative paths in a task object resolve from base_dir. args are appended to the run command, each shell-quoted. An invalid task is refused with code "usage" and a message naming the field; nothing is launched then.`,
      inputSchema: {
        task: taskObject.optional(),
        task_file: z.string().min(1).optional().describe("Path of a task YAML file (instead of task)."),
        base_dir: z
          .string()
          .optional()
          .describe("For a task object: the directory its workdir and other relative paths are in (default: the server's cwd)."),
        args: z.array(z.string()).optional().describe("Arguments appended to the task's run command, each quoted for the shell."),
        resume_from: z
          .string()
          .optional()
          .describe("Start from a checkpoint: a job id or name (its newest checkpoint), JOB/GENERATION, or a store URL."),
      },
      annotations: {
        title: "Run a job",
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: false,
        openWorldHint: true,
      },
    },
    async (input) =>
      call(async () => {
        if ((input.task === undefined) === (input.task_file === undefined))
          throw usageError(
            "give exactly one of task (an object) or task_file (a path)",
            "e.g. {task: {run: 'python3 train.py'}}",
          );
        const overrides = input.resume_from ? { "checkpoint.resume_from": input.resume_from } : {};
        const jobs = await sr.submit(input.task_file ?? (input.task as object), {
          overrides,
          ...(input.args ? { args: input.args } : {}),
          ...(input.base_dir ? { baseDir: input.base_dir } : {}),
        });
        await sr.ensureController();
        return { jobs, next: `status ${jobs[0]?.id}` };
      })(),
  );

  server.registerTool(
    "status",
    {
      title: "Job status",
      description: `One job's state, attempts, preemptions, current capacity and cost (give job), or every active job and recently finished one (no job; all: true for every job). A job is done when its state is ${TERMINAL}; RECOVERING after a preemption is normal and needs nothing from you. Poll every 10-30 s.`,
      inputSchema: {
        job: jobRef.optional(),
        all: z.boolean().optional().describe("Without job: include every finished job."),
      },
      annotations: { title: "Job status", ...readOnly },
    },
    async ({ job, all }) =>
      call(async () => {
        // A job waiting on a controller that went away gets one again.
        await sr.ensureController();
        return job ? sr.job(job) : sr.status(all ? { all: true } : {});
      })(),
  );

  server.registerTool(
    "events",
    {
      title: "Job events",
      description:
        "A job's event log after sequence number after_seq (pass the previous call's next_seq to get only new events): state changes, launches and refusals, interruption notices, checkpoints uploaded and restored, budget warnings. Each event has seq, at (RFC 3339), kind and its fields.",
      inputSchema: {
        job: jobRef,
        after_seq: z.number().int().min(0).optional().describe("Only events after this sequence number (default 0: all)."),
        limit: z.number().int().min(1).max(10_000).optional().describe("At most this many events (default 500)."),
      },
      annotations: { title: "Job events", ...readOnly },
    },
    async ({ job, after_seq, limit }) => call(() => sr.events(job, { afterSeq: after_seq ?? 0, limit: limit ?? 500 }))(),
  );

  server.registerTool(
    "logs",
    {
      title: "Job output",
      description: `A job's output (stdout and stderr of every attempt, with a line per attempt): the last tail lines, or the bytes after offset since (pass the previous call's next_offset to read only what is new). At most ${MAX_LOG_BYTES / 1024} KiB per call unless max_bytes says otherwise; truncated says more is waiting.`,
      inputSchema: {
        job: jobRef,
        tail: z.number().int().min(0).optional().describe("Only the last N lines."),
        since: z.number().int().min(0).optional().describe("Only what came after this byte offset (a previous next_offset)."),
        max_bytes: z.number().int().min(1).max(4_194_304).optional(),
      },
      annotations: { title: "Job output", ...readOnly },
    },
    async ({ job, tail, since, max_bytes }) =>
      call(() =>
        sr.logs(job, {
          maxBytes: max_bytes ?? MAX_LOG_BYTES,
          ...(tail !== undefined ? { tail } : {}),
          ...(since !== undefined ? { since } : {}),
        }),
      )(),
  );

  server.registerTool(
    "cancel",
    {
      title: "Cancel jobs",
      description:
        "Cancel jobs (or whole arrays, arr-…): their instances are torn down by the controller and billing stops; checkpoints are kept, so a later run can resume_from them. Returns at once; follow with status until CANCELLED. Finished jobs are left alone.",
      inputSchema: { jobs: z.array(jobRef).min(1) },
      annotations: {
        title: "Cancel jobs",
        readOnlyHint: false,
        destructiveHint: true,
        idempotentHint: true,
        openWorldHint: true,
      },
    },
    async ({ jobs }) =>
      call(async () => {
        const ids = await sr.cancel(jobs);
        await sr.ensureController();
        return { cancelled: await Promise.all(ids.map(async (id) => ({ id, state: (await sr.job(id)).state }))) };
      })(),
  );

  server.registerTool(
    "cost",
    {
      title: "Cost and savings",
      description:
        "What a job (or array, or every job) cost in USD, what the same instance time would have cost on-demand, and the savings: per job and in total.",
      inputSchema: { job: jobRef.optional() },
      annotations: { title: "Cost and savings", ...readOnly },
    },
    async ({ job }) => call(() => sr.cost(job))(),
  );

  server.registerTool(
    "offers",
    {
      title: "Find capacity",
      description:
        "Launchable offers ranked by expected cost to finish the work (price, interruption risk, restart overhead): for a task file's resources, or on Vast.ai for a query in its language such as 'gpu_ram >= 24 num_gpus=1 reliability > 0.95' (with provider: vast). Use it before run to choose instance types and a max price.",
      inputSchema: {
        task_file: z.string().min(1).optional().describe("A task YAML whose resources to price."),
        query: z.string().min(1).optional().describe("A Vast.ai offer query (needs provider: vast)."),
        provider: z.enum(["vast"]).optional(),
        order: z.string().optional().describe("With a query: sort order, e.g. dph or -reliability."),
        limit: z.number().int().min(1).max(1000).optional(),
        work: z.string().optional().describe("Work to price the finish of, a duration such as 48h (default 1h)."),
      },
      annotations: { title: "Find capacity", readOnlyHint: true, destructiveHint: false, openWorldHint: true },
    },
    async (i) =>
      handler("offers", i.query ? i.query.split(/\s+/) : [], {
        work: i.work ?? "1h",
        restartOverhead: "10m",
        assumeRisk: "0.05",
        minHours: "24",
        ...(i.task_file ? { task: i.task_file } : {}),
        ...(i.provider ? { provider: i.provider } : {}),
        ...(i.order ? { order: i.order } : {}),
        ...(i.limit ? { limit: String(i.limit) } : {}),
      })(),
  );

  server.registerTool(
    "download",
    {
      title: "Download results",
      description:
        "Copy a file or directory from a running job's instance (remote_path relative to the instance's home, e.g. workdir/outputs) to local_path here. A finished job's results are in its checkpoint store instead (checkpoint_store in status).",
      inputSchema: {
        job: jobRef,
        remote_path: z.string().min(1),
        local_path: z.string().min(1).optional(),
        node: z.number().int().min(0).optional().describe("Which node of a multi-node job (default 0)."),
      },
      annotations: { title: "Download results", readOnlyHint: false, destructiveHint: false, openWorldHint: true },
    },
    async (i) =>
      handler("download", [i.job, i.remote_path, ...(i.local_path ? [i.local_path] : [])], { node: String(i.node ?? 0) })(),
  );

  server.registerTool(
    "simulate",
    {
      title: "Simulate placement policies",
      description:
        "Replay spot availability traces (JSON files) through the placement policies on a virtual clock: cost and whether each policy meets the deadline, for work hours of compute due deadline hours after the start. Cheap and offline; use it to choose a recovery strategy.",
      inputSchema: {
        traces: z.array(z.string().min(1)).min(1).describe("Availability trace files, one per zone, best first."),
        work: z.string().describe("Compute the job needs, e.g. 48h."),
        deadline: z.string().describe("Time from the start to the deadline, e.g. 60h."),
        restart_overhead: z.string().optional().describe("Time a new instance takes before it makes progress (default 12m)."),
        policy: z.enum(["greedy", "uniform-progress", "ross", "adaptive", "on-demand", "spot-only", "all"]).optional(),
      },
      annotations: { title: "Simulate placement policies", ...readOnly },
    },
    async (i) =>
      handler("simulate", [], {
        trace: i.traces,
        work: i.work,
        deadline: i.deadline,
        restartOverhead: i.restart_overhead ?? "12m",
        spotPrice: "0.92",
        onDemandPrice: "3.06",
        policy: i.policy ?? "all",
        seed: "1",
        startAt: "0s",
        blockZoneFor: "30m",
      })(),
  );

  server.registerTool(
    "session_start",
    {
      title: "Start a session",
      description:
        "Start a persistent coding-agent session: named agents in tmux on a spot instance, the persisted paths on a volume that survives preemption and follows the session to new capacity. Give a session file (task_file), or persist paths and agents. Returns at once; follow with session_status.",
      inputSchema: {
        name: z.string().min(1).describe("Session name: letters, digits, '_' or '-'."),
        task_file: z.string().min(1).optional().describe("A session YAML (see `spotrun schema session`)."),
        persist: z.array(z.string()).optional().describe("Paths to keep on the volume (~/… or /…), without task_file."),
        agents: z
          .array(z.object({ name: z.string().min(1), command: z.string().min(1) }))
          .optional()
          .describe("Agents, each in its own tmux window, without task_file."),
        provider: z.enum(["local", "aws", "gcp", "vast"]).optional(),
        instance_type: z.string().optional(),
      },
      annotations: { title: "Start a session", readOnlyHint: false, destructiveHint: false, openWorldHint: true },
    },
    async (i) =>
      handler("sessionStart", [i.name], {
        ...(i.task_file ? { task: i.task_file } : {}),
        ...(i.persist ? { persist: i.persist } : {}),
        ...(i.agents ? { agent: i.agents.map((a) => `${a.name}=${a.command}`) } : {}),
        ...(i.provider ? { provider: i.provider } : {}),
        ...(i.instance_type ? { instanceType: i.instance_type } : {}),
      })(),
  );

  server.registerTool(
    "session_status",
    {
      title: "Session status",
      description:
        "Sessions (or the one named): state, instance, uptime, interruptions, cost, and how long each was away after a recovery.",
      inputSchema: { name: z.string().min(1).optional() },
      annotations: { title: "Session status", ...readOnly },
    },
    async ({ name }) =>
      call(async (signal) => {
        const data = (await runCommandHandler(commands.sessionList, sr.home, logger, [], {}, signal)) as {
          sessions: { name: string }[];
        };
        if (!name) return data;
        const one = data.sessions.find((s) => s.name === name);
        if (!one) throw usageError(`no session ${JSON.stringify(name)}`, "list sessions with session_status and no name");
        return one;
      })(),
  );

  server.registerTool(
    "session_stop",
    {
      title: "Stop a session",
      description:
        "Stop a session: its agents are stopped, a final snapshot of the volume is saved, and the instance is terminated (billing stops). The volume is kept for a later resume. Waits for the save.",
      inputSchema: { name: z.string().min(1) },
      annotations: {
        title: "Stop a session",
        readOnlyHint: false,
        destructiveHint: true,
        idempotentHint: true,
        openWorldHint: true,
      },
    },
    async ({ name }) => handler("sessionStop", [name], {})(),
  );

  server.registerTool(
    "setup_check",
    {
      title: "Check prerequisites",
      description:
        "Check what spotrun and the providers need on this machine (SSH key, ssh, rsync, tmux, credentials, region, permissions); each check says what is wrong and how to fix it. Changes nothing.",
      inputSchema: {
        providers: z
          .array(z.enum(["local", "aws", "gcp", "vast"]))
          .optional()
          .describe("Providers to check (default: those configured here)."),
      },
      annotations: { title: "Check prerequisites", readOnlyHint: true, destructiveHint: false, openWorldHint: true },
    },
    async ({ providers }) => handler("setup", [], providers ? { provider: providers.join(",") } : {})(),
  );

  server.registerResource(
    "job-log",
    new ResourceTemplate("spotrun://jobs/{job}/log", {
      list: async () => ({
        resources: (await sr.jobs({ all: true })).slice(0, 100).map((j) => ({
          uri: `spotrun://jobs/${j.id}/log`,
          name: `${j.name} (${j.id}) log`,
          mimeType: "text/plain",
        })),
      }),
    }),
    {
      title: "Job output",
      description: `A job's collected output, every attempt (the last ${MAX_LOG_BYTES / 1024} KiB; the logs tool pages through all of it).`,
      mimeType: "text/plain",
    },
    async (uri, { job }) => {
      const read = await sr.logs(String(job), { tail: 100_000, maxBytes: MAX_LOG_BYTES });
      return { contents: [{ uri: uri.href, mimeType: "text/plain", text: read.text }] };
    },
  );
  return server;
}

/** The command handlers the tools whose logic still lives in a command call. */
export interface McpCommands {
  offers: import("../cli/command.js").CommandSpec;
  download: import("../cli/command.js").CommandSpec;
  simulate: import("../cli/command.js").CommandSpec;
  sessionStart: import("../cli/command.js").CommandSpec;
  sessionList: import("../cli/command.js").CommandSpec;
  sessionStop: import("../cli/command.js").CommandSpec;
  setup: import("../cli/command.js").CommandSpec;
}
