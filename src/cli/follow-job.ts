import { closeSync, openSync, readSync, statSync } from "node:fs";
import { describeEvent } from "../api/describe-event.js";
import type { JobId } from "../base/ids.js";
import { isTerminal, type JobState } from "../core/job-state.js";
import { jobLogPath } from "../core/paths.js";
import type { StateStore } from "../state/state-store.js";
import type { Output } from "./command.js";

/**
 * Stream a job's log (stdout) and progress (stderr) until it ends. With --json, each is one
 * object per line on stdout. Polls the store and the collected log file; works whether this
 * process or a background controller drives the job.
 */
export async function followJob(
  store: StateStore,
  home: string,
  jobId: JobId,
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
      const text = describeEvent(e.kind, JSON.parse(e.data) as Record<string, unknown>);
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
    if (!job || isTerminal(job.state)) {
      drainLog();
      return job?.state ?? "FAILED";
    }
    if (opts.signal?.aborted) return job.state;
    await new Promise((r) => setTimeout(r, 150));
  }
}
