import { chmodSync, openSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { openBlobStore, splitBucketUrl } from "../checkpoints/open-store.js";
import { type HookResult, runHook } from "./hook-runner.js";
import type { Notice, NoticeWatcher } from "./notice.js";

/**
 * `spotrun launch` mode (no managed job): watch for the notice, run the checkpoint script (a local
 * path or an s3:// / gs:// URL) within its timeout, and return — whether it succeeded, failed or hung.
 */
export interface GuardConfig {
  checkpoint_script?: string;
  hook_timeout_ms: number;
  on_interruption: string;
  log_file?: string;
}

export async function fetchScript(ref: string): Promise<string> {
  if (!/^(s3|gs):\/\//.test(ref)) return ref;
  const { bucket, prefix } = splitBucketUrl(ref);
  const scheme = ref.slice(0, 2);
  const store = await openBlobStore(`${scheme}://${bucket}`);
  const dest = join(await mkdtemp(join(tmpdir(), "spotrun-script-")), basename(prefix));
  await store.getFile(prefix, dest);
  chmodSync(dest, 0o755);
  return dest;
}

export async function guard(
  cfg: GuardConfig,
  watcher: NoticeWatcher,
  onEvent: (e: Record<string, unknown>) => void,
): Promise<HookResult | undefined> {
  const script = cfg.checkpoint_script ? await fetchScript(cfg.checkpoint_script) : undefined;
  const notice = await new Promise<Extract<Notice, { kind: "interruption" }>>((resolve) =>
    watcher.start((n) => {
      onEvent({ kind: n.kind, source: n.source, seen_at: new Date(n.seenAt).toISOString() });
      if (n.kind === "interruption") resolve(n);
    }),
  );
  await watcher.stop();
  if (!script || cfg.on_interruption === "terminate") return undefined;
  const left = notice.deadline - Date.now();
  const timeoutMs = Math.max(0, Math.min(cfg.hook_timeout_ms, left - Math.min(10_000, left * 0.25)));
  const logFd = openSync(cfg.log_file ?? "/dev/null", "a");
  const res = await runHook(script, {
    cwd: process.cwd(),
    env: { ...process.env, INTERRUPTION_TIME: new Date(notice.deadline).toISOString(), INTERRUPTION_ACTION: notice.action },
    timeoutMs,
    logFd,
  });
  onEvent({ kind: "hook_ran", outcome: res.outcome, exit_code: res.exitCode, ms: res.ms });
  return res;
}
