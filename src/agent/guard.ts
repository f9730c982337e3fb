import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, readSync, renameSync, statSync, writeFileSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { openBlobStore, splitBucketUrl } from "../checkpoints/open-store.js";
import { type HookResult, runHook } from "./hook-runner.js";
import type { Notice, NoticeWatcher } from "./notice.js";

/**
 * `spotrun launch` mode (no managed job): watch for the notice, run the checkpoint script (a local
 * path, an s3:// / gs:// object or an http(s) URL) within its timeout, once per notice, whatever
 * the interruption action (terminate too: the machine goes away either way), keeping its output.
 */
export interface GuardConfig {
  checkpoint_script?: string;
  hook_timeout_ms: number;
  on_interruption: string;
  /** Where the script's stdout and stderr go (default GUARD_LOG); its tail is also in the hook_ran event. */
  log_file?: string;
  /** Where the guard remembers the notices it already handled (default GUARD_STATE_DIR). */
  state_dir?: string;
}

export const GUARD_LOG = "/var/log/spotrun-checkpoint.log";
export const GUARD_STATE_DIR = "/var/lib/spotrun";
/** A script fetched from a URL is a script, not a download: larger than this is refused. */
const MAX_SCRIPT_BYTES = 1024 * 1024;
const FETCH_TIMEOUT_MS = 30_000;
const TAIL_BYTES = 2048;

export async function fetchScript(ref: string): Promise<string> {
  if (/^https?:\/\//.test(ref)) return fetchHttpScript(ref);
  if (!/^(s3|gs):\/\//.test(ref)) return ref;
  const { bucket, prefix } = splitBucketUrl(ref);
  const scheme = ref.slice(0, 2);
  const store = await openBlobStore(`${scheme}://${bucket}`);
  const dest = join(await mkdtemp(join(tmpdir(), "spotrun-script-")), basename(prefix));
  await store.getFile(prefix, dest);
  chmodSync(dest, 0o755);
  return dest;
}

/** Fetched when the guard starts, not when the notice comes: two minutes are not for downloads. */
async function fetchHttpScript(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS), redirect: "follow" });
  if (!res.ok) throw new Error(`fetching the checkpoint script ${url} failed: HTTP ${res.status}`);
  const body = Buffer.from(await res.arrayBuffer());
  if (body.length > MAX_SCRIPT_BYTES)
    throw new Error(`the checkpoint script at ${url} is ${body.length} bytes, more than ${MAX_SCRIPT_BYTES}`);
  const name = basename(new URL(url).pathname) || "checkpoint.sh";
  const dest = join(await mkdtemp(join(tmpdir(), "spotrun-script-")), name);
  await writeFile(dest, body, { mode: 0o755 });
  return dest;
}

/** What the guard wrote down about a notice it handled, so a restarted guard does not run the script again. */
interface HandledNotice {
  deadline: string;
  action: string;
  outcome: HookResult["outcome"] | "started";
}

const handledPath = (dir: string, n: Extract<Notice, { kind: "interruption" }>) => join(dir, `guard-notice-${n.deadline}.json`);

function readHandled(path: string): HandledNotice | undefined {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as HandledNotice;
  } catch {
    return undefined;
  }
}

function writeHandled(path: string, h: HandledNotice): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(`${path}.tmp`, JSON.stringify(h));
  // rename is atomic: a guard killed mid-write leaves the old record or the new one.
  renameSync(`${path}.tmp`, path);
}

function tail(path: string, from: number): string {
  try {
    const size = statSync(path).size;
    const start = Math.max(from, size - TAIL_BYTES);
    if (size <= start) return "";
    const fd = openSync(path, "r");
    try {
      const buf = Buffer.alloc(size - start);
      readSync(fd, buf, 0, buf.length, start);
      return buf.toString("utf8");
    } finally {
      closeSync(fd);
    }
  } catch {
    return "";
  }
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
  if (!script) return undefined;
  // systemd restarts a guard that exited or was killed while the same notice still stands: the
  // script runs once per notice (one that began and never finished is not begun again either).
  const record = handledPath(cfg.state_dir ?? GUARD_STATE_DIR, notice);
  const before = readHandled(record);
  if (before) {
    onEvent({ kind: "hook_skipped", reason: "already ran for this notice", deadline: before.deadline, outcome: before.outcome });
    return undefined;
  }
  const deadline = new Date(notice.deadline).toISOString();
  writeHandled(record, { deadline, action: notice.action, outcome: "started" });
  const left = notice.deadline - Date.now();
  const timeoutMs = Math.max(0, Math.min(cfg.hook_timeout_ms, left - Math.min(10_000, left * 0.25)));
  const logFile = cfg.log_file ?? GUARD_LOG;
  mkdirSync(dirname(logFile), { recursive: true });
  const logFd = openSync(logFile, "a");
  const from = statSync(logFile).size;
  let res: HookResult;
  try {
    res = await runHook(script, {
      cwd: process.cwd(),
      env: { ...process.env, INTERRUPTION_TIME: deadline, INTERRUPTION_ACTION: notice.action },
      timeoutMs,
      logFd,
    });
  } finally {
    closeSync(logFd);
  }
  writeHandled(record, { deadline, action: notice.action, outcome: res.outcome });
  onEvent({
    kind: "hook_ran",
    action: notice.action,
    outcome: res.outcome,
    exit_code: res.exitCode,
    ms: res.ms,
    log_file: logFile,
    output_tail: tail(logFile, from),
  });
  return res;
}
