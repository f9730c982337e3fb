import { createHash } from "node:crypto";
import { homedir } from "node:os";
import { basename, join } from "node:path";
import { agentPaths } from "../agent/protocol.js";
import { usageError } from "../base/errors.js";
import { InstanceId, type JobId } from "../base/ids.js";
import { checkStoreUrl } from "../checkpoints/open-store.js";
import { probeStore } from "../checkpoints/probe-store.js";
import { isTerminal } from "../core/job-state.js";
import type { Services } from "../core/services.js";
import { submitJob } from "../core/submit.js";
import { localTmuxSocket, readSession, type SessionRecord, writeSession } from "./session-registry.js";
import type { SessionFile } from "./session-schema.js";
import { newestSessionSnapshot } from "./session-snapshots.js";
import { sessionTask } from "./session-task.js";
import type { SupervisorSpec } from "./supervisor-spec.js";
import { FILL_WARNING, localVolumeDir, readVolumeMeta, usedBytes, writeVolumeMeta } from "./volume.js";

/** Where the GCP provider mounts the session's persistent disk on every VM. */
export const GCP_VOLUME_MOUNT = "/mnt/spotrun-volume";

/**
 * Where the volume is on the instance: local, a directory outside every instance; GCP, the
 * persistent disk the provider re-attaches and mounts; elsewhere the instance's own disk, carried
 * from instance to instance by the snapshots.
 */
export function volumeLocation(home: string, name: string, session: SessionFile): SupervisorSpec["volume"] {
  const size_bytes = session.volume.size;
  switch (session.resources.provider) {
    case "local":
      return { kind: "dir", path: localVolumeDir(home, name), size_bytes };
    case "gcp":
      return { kind: "mount", path: GCP_VOLUME_MOUNT, size_bytes };
    default:
      return { kind: "dir", path: "~/.spotrun-volume", size_bytes };
  }
}

export function supervisorSpec(home: string, name: string, session: SessionFile): SupervisorSpec {
  return {
    version: 1,
    session: name,
    persist: session.persist,
    agents: session.agents,
    snapshot_interval_ms: session.snapshot_interval,
    save_budget_ms: session.save_budget,
    volume: volumeLocation(home, name, session),
    tmux: tmuxSocketFor(home, name, session),
  };
}

/** Unix socket paths are limited to 108 bytes; a deep home falls back to a name unique to it. */
const MAX_SOCKET_PATH = 100;

function tmuxSocketFor(home: string, name: string, session: SessionFile): SupervisorSpec["tmux"] {
  if (session.resources.provider !== "local") return { kind: "name", name: `spotrun-${name}` };
  const path = localTmuxSocket(home, name);
  if (Buffer.byteLength(path) <= MAX_SOCKET_PATH) return { kind: "path", path };
  return { kind: "name", name: `spotrun-${name}-${createHash("sha256").update(home).digest("hex").slice(0, 8)}` };
}

export interface SizeEstimate {
  /** Bytes already in the volume plus what the persisted paths hold on this machine. */
  estimate_bytes: number;
  size_bytes: number;
  suggested_bytes: number;
  warn: boolean;
}

/**
 * What the session will need: the volume's contents so far, plus the persisted paths as they are
 * here (a person often starts from their own `~/.agent-state`). Suggested: twice that, at least 1 GiB.
 */
export async function estimateSize(home: string, name: string, session: SessionFile): Promise<SizeEstimate> {
  let bytes = 0;
  if (session.resources.provider === "local") bytes += await usedBytes(localVolumeDir(home, name));
  for (const p of session.persist) bytes += await usedBytes(p.startsWith("~/") ? join(homedir(), p.slice(2)) : p);
  const suggested = Math.max(1024 ** 3, Math.ceil((bytes * 2) / 1024 ** 3) * 1024 ** 3);
  return {
    estimate_bytes: bytes,
    size_bytes: session.volume.size,
    suggested_bytes: suggested,
    warn: bytes >= session.volume.size * FILL_WARNING,
  };
}

/** Record one more job for the session (a start or a resume) and hand it to the controller. */
export async function submitSessionJob(
  app: Services,
  home: string,
  rec: Omit<SessionRecord, "job_ids"> & { job_ids?: JobId[] },
): Promise<JobId> {
  const provider = await app.providers.get(rec.session.resources.provider);
  provider.validateResources?.(rec.session.resources);
  const spec = supervisorSpec(home, rec.name, rec.session);
  if (spec.volume.kind === "dir" && rec.session.resources.provider === "local") {
    const meta = await readVolumeMeta(spec.volume.path);
    if (!meta)
      await writeVolumeMeta(spec.volume.path, { session: rec.name, size_bytes: rec.session.volume.size, created_at: Date.now() });
  }
  if (rec.session.store) {
    checkStoreUrl(rec.session.store, `${rec.file ? basename(rec.file) : "session"}: store`);
    await probeStore(rec.session.store, { where: `${rec.file ? basename(rec.file) : "session"}: store` });
  }
  // A resume (or a start after a stop) restores the newest snapshot of the session's earlier jobs.
  const snapshot = rec.job_ids?.length ? await newestSessionSnapshot(app.store, rec.job_ids) : undefined;
  const task = sessionTask(rec.name, rec.session, spec, "spotrun", snapshot?.url);
  const [id] = await submitJob(app.store, { task, file: rec.file ?? undefined, baseDir: rec.base_dir }, home, app.clock);
  if (id === undefined) throw new Error("a session's task is no array: its submit makes one job");
  await writeSession(home, { ...rec, job_ids: [...(rec.job_ids ?? []), id] });
  return id;
}

export async function latestJob(app: Services, rec: SessionRecord) {
  const id = rec.job_ids[rec.job_ids.length - 1];
  return id ? app.store.job(id) : undefined;
}

export async function isActive(app: Services, rec: SessionRecord): Promise<boolean> {
  const job = await latestJob(app, rec);
  return job !== undefined && !isTerminal(job.state);
}

export function refuseIfActive(home: string, name: string, active: boolean): void {
  if (active)
    throw usageError(`session ${name} is already running`, `attach with \`spotrun session attach ${name}\` or stop it first`);
  if (readSession(home, name) && !active)
    throw usageError(`session ${name} exists and is stopped`, `continue it with \`spotrun session resume ${name}\``);
}

export type StopPath = "saved" | "cancelled" | "already_stopped";

/**
 * A stop with a save: the agent on the instance is asked (its control file) to stop the supervisor,
 * which stops the agents and writes the final snapshot; the agent uploads it and exits `stopped`,
 * and the controller ends the job and terminates the instance. Without a running instance
 * there is nothing to save, and the job is simply cancelled.
 */
export async function requestStop(app: Services, rec: SessionRecord): Promise<StopPath> {
  const job = await latestJob(app, rec);
  if (!job || isTerminal(job.state)) return "already_stopped";
  const live = (await app.store.instances({ jobId: job.id, attempt: job.attempt, live: true }))[0];
  const attempt = job.attempt >= 0 ? await app.store.attempt(job.id, job.attempt) : undefined;
  if (live && attempt?.agent_started && attempt.state !== "ENDED") {
    const provider = await app.providers.get(rec.session.resources.provider);
    const [info] = await provider.describe([InstanceId(live.id)]);
    if (info && info.status !== "terminated") {
      const t = await provider.transport(info);
      try {
        await t.writeFile(agentPaths().control, JSON.stringify({ action: "checkpoint-and-stop", reason: "session-stop" }));
        return "saved";
      } finally {
        await t.close().catch(() => {});
      }
    }
  }
  await cancelJob(app, job.id);
  return "cancelled";
}

export async function cancelJob(app: Services, jobId: JobId): Promise<void> {
  await app.store.transaction(async (tx) => {
    await tx.updateJob(jobId, { desired: "cancel" });
    await tx.appendEvent(jobId, app.clock.now(), { kind: "cancel_requested" });
  });
}

/** Wait until the job is over; false on timeout. */
export async function waitTerminal(app: Services, jobId: JobId, timeoutMs: number, signal: AbortSignal): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until && !signal.aborted) {
    const j = await app.store.job(jobId);
    if (!j || isTerminal(j.state)) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}
