import { type Task, taskSchema } from "../spec/task-schema.js";
import type { SessionFile } from "./session-schema.js";
import { SPEC_ENV, type SupervisorSpec } from "./supervisor-spec.js";

/** Relative to the job's workdir on the instance; the agent uploads it as generations. */
export const SESSION_CHECKPOINT_DIR = ".spotrun-session";

/**
 * A session runs as a managed job whose `run` is the session supervisor, so it gets the job
 * machinery as is: placement, notices, the save window, recovery, the cost ledger.
 */
/** A GCP disk name for the session: lowercase letters, digits and '-', at most 63. */
export const gcpDiskName = (session: string): string =>
  `spotrun-s-${session.toLowerCase().replace(/[^a-z0-9-]/g, "-")}`.slice(0, 62).replace(/-+$/, "");

/**
 * The provider's share of the volume: on GCP, `resources.volumes` (a persistent disk created once,
 * re-attached to each replacement VM and mounted by its startup script), beside any the file names.
 */
function withVolume(resources: Task["resources"], name: string, session: SessionFile, spec: SupervisorSpec): Task["resources"] {
  if (resources.provider !== "gcp" || spec.volume.kind !== "mount") return resources;
  const disk = { name: gcpDiskName(name), size: Math.ceil(session.volume.size / 1024 ** 3), mount: spec.volume.path };
  return { ...resources, volumes: [...(resources.volumes ?? []), disk] };
}

/** Where a session's jobs keep their snapshots: one prefix for the session, a folder per job under it. */
export const sessionStoreBase = (store: string, name: string): string => `${store.replace(/\/+$/, "")}/sessions/${name}`;

/**
 * `resumeFrom`: the newest snapshot of the session's earlier jobs (a store URL ending in its
 * generation), restored while this job's own store has none, so a `session resume` on a fresh
 * instance disk comes back with the volume.
 */
export function sessionTask(
  name: string,
  session: SessionFile,
  spec: SupervisorSpec,
  spotrunCommand: string,
  resumeFrom?: string,
): Task {
  const base = taskSchema.parse({
    name: `session-${name}`,
    run: `${spotrunCommand} session supervise`,
    ...(session.workdir ? { workdir: session.workdir } : {}),
    ...(session.setup ? { setup: session.setup } : {}),
  });
  return {
    ...base,
    resources: withVolume(session.resources, name, session, spec),
    envs: { ...session.envs, [SPEC_ENV]: JSON.stringify(spec) },
    checkpoint: {
      ...base.checkpoint,
      ...(session.store ? { store: sessionStoreBase(session.store, name) } : {}),
      ...(resumeFrom ? { resume_from: resumeFrom } : {}),
      dir: SESSION_CHECKPOINT_DIR,
      // The supervisor's own save budget, plus room for the agent's upload after it.
      hook_timeout: session.save_budget + 5_000,
      // An idle session writes no snapshot for days; that is not a stall worth a warning.
      stall_warning: 30 * 86_400_000,
    },
    // Agents failing never fail the supervisor; a supervisor that fails met something on the instance, worth a retry.
    recovery: { ...base.recovery, max_restarts: session.max_restarts, max_restarts_on_errors: 2 },
  };
}
