import { costSeries } from "../api/cost-series.js";
import { listInstances } from "../api/instance-list.js";
import { jobTimeline } from "../api/job-timeline.js";
import type { JobFilter } from "../api/select-jobs.js";
import type { Spotrun } from "../api/spotrun.js";
import { JOB_STATES } from "../core/job-state.js";
import { listSessions } from "../sessions/session-registry.js";
import { sessionView } from "../sessions/session-view.js";

/** A request the API could not answer: its status code and one line. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The dashboard's JSON endpoints, each a thin read through the library API (the CLI's functions):
 * no second source of truth. `path` is below `/api/`.
 */
export async function dashboardApi(app: Spotrun, path: string, q: URLSearchParams): Promise<unknown> {
  const parts = path.split("/").filter(Boolean);
  if (parts[0] === "jobs" && parts.length === 1) {
    const states = (q.get("state") ?? "").split(",").filter((s) => (JOB_STATES as readonly string[]).includes(s));
    const f: JobFilter = {
      all: q.get("all") === "1",
      ...(states.length ? { states } : {}),
      ...(q.get("name") ? { name: q.get("name") as string } : {}),
      ...(q.get("array") ? { arrayId: q.get("array") as string } : {}),
    };
    return app.status(f);
  }
  if (parts[0] === "jobs" && parts.length === 2) {
    const job = await app.jobRow(decodeURIComponent(parts[1] as string));
    const [view, attempts, instances, events] = await Promise.all([
      app.job(job.id),
      app.store.attempts(job.id),
      app.store.instances({ jobId: job.id }),
      app.store.events(job.id),
    ]);
    return { job: view, timeline: jobTimeline(attempts, instances, events, app.clock.now()) };
  }
  if (parts[0] === "jobs" && parts[2] === "log") {
    const since = Number(q.get("since") ?? "");
    return app.logs(
      decodeURIComponent(parts[1] as string),
      Number.isFinite(since) && q.has("since") ? { since, maxBytes: 256 * 1024 } : { tail: 200 },
    );
  }
  if (parts[0] === "instances") return { instances: await listInstances(app, { all: q.get("all") === "1" }) };
  if (parts[0] === "sessions") {
    const now = app.clock.now();
    return { sessions: await Promise.all(listSessions(app.home).map((r) => sessionView(app.store, r, now))) };
  }
  if (parts[0] === "cost") {
    const now = app.clock.now();
    return { ...(await app.cost()), series: costSeries(await app.store.instances(), now) };
  }
  throw new ApiError(404, `no such endpoint /api/${path}`);
}
