import { dirname, resolve } from "node:path";
import { z } from "zod";
import { usageError } from "../base/errors.js";
import { durationField } from "../spec/duration-field.js";
import { describeZodError } from "../spec/load-task.js";
import { readSettingsFile, readYaml } from "../spec/read-yaml.js";
import { resourcesSchema } from "../spec/task-schema.js";
import { parseSize } from "./size.js";

const duration = () => durationField("25s or 10m");

const size = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const bytes = parseSize(v);
  if (bytes === undefined) {
    ctx.addIssue({ code: "custom", message: `expected a size such as 10GB or 512MB, got ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  return bytes;
});

export const SESSION_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_-]{0,39}$/;
const AGENT_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_-]{0,31}$/;

/** A persisted path: `~/…` (the instance's HOME) or absolute. Never the whole home or `/`. */
const persistPath = z.string().refine((p) => (p.startsWith("~/") && p.length > 2) || (p.startsWith("/") && p.length > 1), {
  message: "expected ~/path or /absolute/path (not ~ or / itself)",
});

export const agentSchema = z
  .object({
    name: z.string().regex(AGENT_NAME, "letters, digits, '_' or '-', at most 32 (it names the tmux window)"),
    /** First start on a fresh volume. */
    command: z.string().min(1),
    /** Every later start (after a preemption, or `session resume`); defaults to `command`. */
    resume_command: z.string().min(1).optional(),
    /** Keys sent into the pane instead of SIGTERM, in tmux send-keys syntax (`C-c`, `/exit`, `Enter`). */
    stop_keys: z.array(z.string()).min(1).optional(),
  })
  .strict();

export const sessionFileSchema = z
  .object({
    name: z.string().regex(SESSION_NAME, "letters, digits, '_' or '-', at most 40").optional(),
    resources: resourcesSchema.prefault({}),
    persist: z.array(persistPath).min(1, "name at least one path to keep, such as ~/.agent-state"),
    agents: z
      .array(agentSchema)
      .min(1, "name at least one agent")
      .superRefine((agents, ctx) => {
        const seen = new Set<string>();
        for (const [i, a] of agents.entries()) {
          if (seen.has(a.name))
            ctx.addIssue({ code: "custom", path: [i, "name"], message: `agent name ${a.name} is used twice` });
          seen.add(a.name);
        }
      }),
    /** Checkpoint store the snapshots go to (file:///path, s3://bucket/prefix, gs://bucket/prefix); default the home's file store. */
    store: z.string().min(1).optional(),
    snapshot_interval: duration().default(600_000),
    save_budget: duration().default(25_000),
    volume: z
      .object({ size: size.default(10 * 1024 ** 3) })
      .strict()
      .prefault({}),
    workdir: z.string().optional(),
    setup: z.string().optional(),
    envs: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String)).prefault({}),
    max_restarts: z.number().int().min(0).max(100_000).default(1000),
  })
  .strict();

export type SessionFile = z.output<typeof sessionFileSchema>;
export type AgentSpec = z.output<typeof agentSchema>;

export interface LoadedSession {
  session: SessionFile;
  file: string;
  baseDir: string;
}

export function parseSessionText(text: string, name: string): SessionFile {
  const raw = readYaml(text, name, "session file") ?? {};
  if (typeof raw !== "object" || Array.isArray(raw))
    throw usageError(`${name}: a session file must be a YAML mapping`, "see examples/sessions/session.yaml");
  const parsed = sessionFileSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success)
    throw usageError(describeZodError(parsed.error, name), "fix the session file (see docs/sessions/README.md)");
  return parsed.data;
}

export async function loadSessionFile(path: string): Promise<LoadedSession> {
  const file = resolve(path);
  const text = await readSettingsFile(path, "session file");
  return { session: parseSessionText(text, path), file, baseDir: dirname(file) };
}
