import { toIso } from "../base/clock.js";
import { summarize } from "../cost/ledger.js";
import type { EventRow, StateStore } from "../state/state-store.js";
import type { SessionRecord } from "./session-registry.js";

export type SessionState = "starting" | "running" | "recovering" | "stopping" | "stopped" | "ended" | "failed";

export function sessionState(jobState: string | undefined, preemptions: number, cancelRequested: boolean): SessionState {
  if (cancelRequested && !["CANCELLED", "FAILED", "SUCCEEDED", "OVER_BUDGET"].includes(jobState ?? "")) return "stopping";
  switch (jobState) {
    case "RUNNING":
      return "running";
    case "RECOVERING":
      return "recovering";
    case "PENDING":
    case "PROVISIONING":
    case "SETTING_UP":
      return preemptions > 0 ? "recovering" : "starting";
    case "CANCELLED":
    case "OVER_BUDGET":
      return "stopped";
    case "SUCCEEDED":
      return "ended";
    default:
      return jobState === undefined ? "stopped" : "failed";
  }
}

/** One time the session was away: from the notice on the old instance to the agents back on the new one. */
export interface Away {
  from_attempt: number;
  notice_at: number;
  back_at: number | null;
  ms: number;
}

/**
 * The gaps a person notices, read from a job's events: each attempt that ended preempted, from its
 * notice (or its end, when no notice came) until the next attempt's agents started.
 */
export function awayPeriods(events: EventRow[], now: number): Away[] {
  const parsed = events.map((e) => ({ at: e.at, kind: e.kind, data: JSON.parse(e.data) as Record<string, unknown> }));
  const out: Away[] = [];
  for (const e of parsed) {
    if (e.kind !== "attempt_ended" || e.data.end !== "preempted") continue;
    const attempt = Number(e.data.attempt);
    const notice = parsed.find((n) => n.kind === "notice" && n.data.attempt === attempt);
    const start = notice?.at ?? e.at;
    const back = parsed.find(
      (n) =>
        n.at >= start &&
        Number(n.data.attempt) > attempt &&
        (n.kind === "run_started" || (n.kind === "session_step" && n.data.step === "agents_started")),
    );
    const backAt = back?.at ?? null;
    out.push({ from_attempt: attempt, notice_at: start, back_at: backAt, ms: (backAt ?? now) - start });
  }
  return out;
}

/** The JSON shape of a session in `session list` (snake_case, RFC 3339, `_usd`). */
export async function sessionView(store: StateStore, rec: SessionRecord, now: number) {
  const jobs = (await Promise.all(rec.job_ids.map((id) => store.job(id)))).filter((j) => j !== undefined);
  const latest = jobs[jobs.length - 1];
  const allInstances = (await Promise.all(jobs.map((j) => store.instances({ jobId: j.id })))).flat();
  const cost = summarize(allInstances, now);
  const events = latest ? await store.events(latest.id) : [];
  const live = allInstances.filter((i) => i.ended_at === null && i.job_id === latest?.id && i.attempt === latest?.attempt);
  const cancelRequested = events.some((e) => e.kind === "cancel_requested");
  const state = sessionState(latest?.state, latest?.preemptions ?? 0, cancelRequested);
  const runStarted = [...events]
    .reverse()
    .find((e) => e.kind === "run_started" && (JSON.parse(e.data) as { attempt: number }).attempt === latest?.attempt);
  const aways = (
    await Promise.all(jobs.map(async (j) => awayPeriods(j === latest ? events : await store.events(j.id), now)))
  ).flat();
  const lastAway = aways[aways.length - 1];
  const saves = events
    .filter((e) => e.kind === "session_step" && (JSON.parse(e.data) as { step: string }).step === "save_total")
    .map((e) => (JSON.parse(e.data) as { ms: number }).ms);
  return {
    id: rec.name,
    name: rec.name,
    state,
    job_id: latest?.id ?? null,
    job_state: latest?.state ?? null,
    instance_id: live[0]?.id ?? null,
    provider: rec.session.resources.provider,
    agents: rec.session.agents.map((a) => a.name),
    created_at: toIso(rec.created_at),
    running_since: state === "running" && runStarted ? toIso(runStarted.at) : null,
    uptime_seconds: state === "running" && runStarted ? Math.round((now - runStarted.at) / 1000) : 0,
    interruptions: jobs.reduce((n, j) => n + j.preemptions, 0),
    away_seconds: lastAway ? Math.round(lastAway.ms / 1000) : null,
    away_total_seconds: Math.round(aways.reduce((n, a) => n + a.ms, 0) / 1000),
    last_save_ms: saves.length ? saves[saves.length - 1] : null,
    cost_usd: cost.cost_usd,
    on_demand_baseline_usd: cost.on_demand_baseline_usd,
  };
}
export type SessionView = Awaited<ReturnType<typeof sessionView>>;
