import { mkdirSync, openSync, readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { openCheckpointStore } from "../checkpoints/open-store.js";
import { safetyMargin } from "./agent.js";
import { runHook } from "./hook-runner.js";
import { agentConfigSchema, agentPaths } from "./protocol.js";
import { snapshotDir } from "./snapshot-dir.js";

/**
 * The shutdown path when the agent itself has died (a GCE shutdown script): run the checkpoint
 * hook within the window, then upload what the checkpoint directory holds as one generation.
 */
export async function saveOnce(configPath: string, reason: string, windowMs = 25_000): Promise<string | null> {
  const file = isAbsolute(configPath) ? configPath : resolve(process.cwd(), configPath);
  const home = dirname(dirname(file));
  const cfg = agentConfigSchema.parse(JSON.parse(readFileSync(file, "utf8")));
  const paths = agentPaths(join(home, ".spotrun"));
  mkdirSync(dirname(paths.log), { recursive: true });
  const logFd = openSync(paths.log, "a");
  const deadline = Date.now() + windowMs;
  const margin = safetyMargin(windowMs);
  if (cfg.checkpoint.hook)
    await runHook(cfg.checkpoint.hook, {
      cwd: cfg.workdir,
      env: {
        ...process.env,
        ...cfg.envs,
        SPOT_CHECKPOINT_DIR: cfg.checkpoint.dir,
        INTERRUPTION_TIME: new Date(deadline).toISOString(),
        INTERRUPTION_ACTION: reason,
      },
      timeoutMs: Math.max(0, Math.min(cfg.checkpoint.hook_timeout_ms, windowMs - margin)),
      logFd,
    });
  if (!cfg.checkpoint.upload) return null;
  const store = await openCheckpointStore(cfg.checkpoint.store_url);
  const snap = await snapshotDir(cfg.checkpoint.dir, join(home, ".spotrun", `snap-save-${Date.now()}`));
  try {
    const m = await store.save(snap, { jobId: cfg.job_id, attempt: cfg.attempt, reason, now: Date.now() });
    return m.files.length ? m.generation : null;
  } finally {
    await rm(snap, { recursive: true, force: true });
  }
}
