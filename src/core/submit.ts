import { existsSync } from "node:fs";
import { basename, isAbsolute, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Clock } from "../base/clock.js";
import { usageError } from "../base/errors.js";
import { type JobId, newJobId } from "../base/ids.js";
import { checkStoreUrl, jobStoreUrl } from "../checkpoints/open-store.js";
import type { LoadedTask } from "../spec/load-task.js";
import type { Task } from "../spec/task-schema.js";
import type { JobRow, StateStore } from "../state/state-store.js";

/**
 * Record the intent: one job row (or one per array member) in PENDING, and its first event.
 * Everything else is the controller's. Checks here are those that would fail every attempt alike.
 */
export async function submitJob(store: StateStore, loaded: LoadedTask, home: string, clock: Clock): Promise<JobId[]> {
  const { task, baseDir } = loaded;
  if (task.checkpoint.store)
    checkStoreUrl(task.checkpoint.store, `${loaded.file ? `${basename(loaded.file)}: ` : ""}checkpoint.store`);
  checkPaths(task, baseDir);
  const now = clock.now();
  const count = task.array?.count ?? 1;
  const spotCount = task.array?.spot_count ?? count;
  const arrayId = task.array ? newJobId(now).replace(/^j-/, "arr-") : null;
  const ids: JobId[] = [];
  await store.transaction(async (tx) => {
    for (let i = 0; i < count; i++) {
      const id = newJobId(now);
      const memberTask: Task = task.array
        ? {
            ...task,
            name: `${task.name}-${i}`,
            resources: { ...task.resources, spot: task.resources.spot && i < spotCount },
            envs: { ...task.envs, SPOT_ARRAY_INDEX: String(i), SPOT_ARRAY_SIZE: String(count) },
          }
        : task;
      const base = task.checkpoint.store ?? pathToFileURL(join(home, "checkpoints")).href;
      await tx.insertJob(
        pendingJobRow({
          id,
          task: memberTask,
          baseDir,
          now,
          storeUrl: jobStoreUrl(base, id),
          arrayId,
          arrayIndex: task.array ? i : null,
        }),
      );
      await tx.appendEvent(id, now, { kind: "job_submitted", name: memberTask.name });
      ids.push(id);
    }
  });
  return ids;
}

/** A workdir or a checkpoint script that does not exist fails now, with its path, not on the instance. */
function checkPaths(task: Task, baseDir: string): void {
  const workdir = task.workdir ? resolve(baseDir, task.workdir) : undefined;
  if (workdir && !existsSync(workdir))
    throw usageError(`workdir ${task.workdir} does not exist (resolved to ${workdir})`, "fix workdir in the task file");
  const hook = task.checkpoint.hook;
  if (hook && /^[^\s;|&]+$/.test(hook) && (hook.startsWith("./") || hook.includes("/")) && !hook.startsWith("s3://")) {
    const path = isAbsolute(hook) ? hook : resolve(workdir ?? baseDir, hook);
    if (!existsSync(path))
      throw usageError(
        `checkpoint.hook ${hook} does not exist (looked for ${path})`,
        "put the script in the workdir or fix the path",
      );
  }
}

/** A job as submitted: PENDING, no attempt yet, nothing spent. */
export function pendingJobRow(o: {
  id: JobId;
  task: Task;
  baseDir: string;
  now: number;
  storeUrl: string;
  arrayId?: string | null;
  arrayIndex?: number | null;
}): JobRow {
  return {
    id: o.id,
    name: o.task.name,
    task_json: JSON.stringify(o.task),
    base_dir: o.baseDir,
    state: "PENDING",
    desired: "run",
    created_at: o.now,
    updated_at: o.now,
    ended_at: null,
    attempt: -1,
    preemptions: 0,
    error_restarts: 0,
    launch_failures: 0,
    spot_requests: 0,
    store_url: o.storeUrl,
    message: null,
    array_id: o.arrayId ?? null,
    array_index: o.arrayIndex ?? null,
    budget_warned: 0,
    not_before: 0,
    log_bytes: 0,
    policy_json: null,
  };
}
