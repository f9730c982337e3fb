import { z } from "zod";
import { agentSchema } from "./session-schema.js";

/** Where the tmux server listens: a socket path (local: under $SPOTRUN_HOME, stable across instances) or a `-L` name. */
export const tmuxSocketSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("path"), path: z.string() }),
  z.object({ kind: z.literal("name"), name: z.string() }),
]);
export type TmuxSocket = z.infer<typeof tmuxSocketSchema>;

/**
 * Where the persistent volume is on the instance. `dir`: a directory that outlives instances (the
 * local provider's `<home>/volumes/<session>`); `mount`: a disk the provider attached and mounted.
 */
export const volumeLocationSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("dir"), path: z.string(), size_bytes: z.number().positive() }),
  z.object({ kind: z.literal("mount"), path: z.string(), size_bytes: z.number().positive() }),
]);

/** What `spotrun session supervise` is told: everything it needs, nothing it must look up. */
export const supervisorSpecSchema = z.object({
  version: z.literal(1),
  session: z.string(),
  persist: z.array(z.string()).min(1),
  agents: z.array(agentSchema).min(1),
  snapshot_interval_ms: z.number().positive(),
  save_budget_ms: z.number().positive(),
  volume: volumeLocationSchema,
  tmux: tmuxSocketSchema,
});
export type SupervisorSpec = z.infer<typeof supervisorSpecSchema>;

/** The spec travels in the job's environment, so it needs no file on the instance. */
export const SPEC_ENV = "SPOTRUN_SESSION_SPEC";

export function parseSupervisorSpec(text: string, where: string): SupervisorSpec {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new Error(`${where}: the session spec is not JSON`);
  }
  const parsed = supervisorSpecSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`${where}: invalid session spec: ${parsed.error.issues[0]?.message ?? "?"}`);
  return parsed.data;
}

export const tmuxSocketArgs = (s: TmuxSocket): string[] => (s.kind === "path" ? ["-S", s.path] : ["-L", s.name]);
