import { closeSync, openSync, readSync, statSync } from "node:fs";
import { formatDuration } from "../base/duration.js";
import { isTerminal, type JobState } from "../core/job-state.js";
import { jobLogPath } from "../core/paths.js";
import type { EventRow, StateStore } from "../state/state-store.js";
import type { Output } from "./command.js";

/** Progress lines a person wants to see while a job runs; the rest stays in `status`/events. */
export function describeEvent(e: EventRow): string | undefined {
  const d = JSON.parse(e.data) as Record<string, unknown>;
  switch (e.kind) {
    case "state_changed":
      return `${d.to}${d.reason ? `: ${d.reason}` : ""}`;
    case "instance_launched":
      return `instance ${d.instance_id} launched (${d.spot ? "spot" : "on-demand"}, $${d.price_usd_per_hour}/h)`;
    case "launch_refused":
      return `launch refused: ${d.code} — ${d.message}`;
    case "fallback_on_demand":
      return `spot capacity refused (${d.code}); falling back to on-demand`;
    case "notice":
      return `interruption notice (${d.action}) at ${d.time}, seen ${d.seen_at}`;
    case "hook_ran":
      return d.outcome === "none"
        ? "no checkpoint hook; trainer sent SIGTERM"
        : `checkpoint hook ${d.outcome} in ${formatDuration(Number(d.ms))}`;
    case "checkpoint_uploaded":
      return d.reason === "periodic"
        ? undefined
        : `checkpoint ${d.generation} uploaded (${d.files} files, ${d.bytes} bytes, ${d.reason})`;
    case "restored":
      return d.generation ? `restored checkpoint ${d.generation} in ${formatDuration(Number(d.ms))}` : undefined;
    case "budget_warning":
      return `budget: $${Number(d.spent_usd).toFixed(4)} of $${d.max_cost_usd} spent (80%)`;
    case "budget_exceeded":
      return `budget exceeded: $${Number(d.spent_usd).toFixed(4)} of $${d.max_cost_usd}; stopping with a final checkpoint`;
    case "checkpoint_stalled":
      return `warning: no new checkpoint for ${formatDuration(Number(d.since_ms))}`;
    case "warning":
      return `warning: ${d.message}`;
    case "reaped":
      return `reaped instance ${d.instance_id} (${d.reason})`;
    default:
      return undefined;
  }
}

/**
 * Stream a job's log (stdout) and progress (stderr) until it ends. With --json, each is one
 * object per line on stdout. Polls the store and the collected log file; works whether this
 * process or a background controller drives the job.
 */
export async function followJob(
  store: StateStore,
  home: string,
  jobId: string,
  out: Output,
  opts: { signal?: AbortSignal; progress?: boolean; logs?: boolean } = {},
): Promise<JobState> {
  const logPath = jobLogPath(home, jobId);
  let offset = 0;
  let seq = 0;
  const drainLog = () => {
    if (opts.logs === false) return;
    let size = 0;
    try {
      size = statSync(logPath).size;
    } catch {
      return;
    }
    if (size <= offset) return;
    const fd = openSync(logPath, "r");
    const buf = Buffer.alloc(size - offset);
    readSync(fd, buf, 0, buf.length, offset);
    closeSync(fd);
    const text = buf.toString("utf8");
    const last = text.lastIndexOf("\n");
    if (last < 0) return;
    offset += Buffer.byteLength(text.slice(0, last + 1));
    for (const line of text.slice(0, last).split("\n")) out.line(line, { job_id: jobId, stream: "log", line });
  };
  for (;;) {
    // The log first: what a run printed before an event (its last lines before SUCCEEDED) reads so.
    drainLog();
    const events = await store.events(jobId, seq);
    for (const e of events) {
      seq = e.seq;
      if (opts.progress === false) continue;
      const text = describeEvent(e);
      if (!text) continue;
      if (out.json)
        out.line(text, {
          job_id: jobId,
          stream: "event",
          kind: e.kind,
          at: new Date(Number(e.at)).toISOString(),
          ...JSON.parse(e.data),
        });
      else out.info(`[spotrun] ${text}`);
    }
    const job = await store.job(jobId);
    if (!job || isTerminal(job.state as JobState)) {
      drainLog();
      return (job?.state ?? "FAILED") as JobState;
    }
    if (opts.signal?.aborted) return job.state as JobState;
    await new Promise((r) => setTimeout(r, 150));
  }
}
