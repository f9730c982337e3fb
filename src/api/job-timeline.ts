import { toIso } from "../base/clock.js";
import { summarize } from "../cost/ledger.js";
import type { AttemptRow, EventRow, InstanceRow } from "../state/state-store.js";
import { describeEvent } from "./describe-event.js";

/**
 * A job's attempts as a timeline (the dashboard's job page): each attempt's capacity, how it
 * ended, the notice it got, the hook, the checkpoints it uploaded with their sizes, what it cost,
 * and how long the recovery to the next attempt took (preemption → the next run started). Pure:
 * built from the attempts, instances and event log the store keeps.
 */
export function jobTimeline(attempts: AttemptRow[], instances: InstanceRow[], events: EventRow[], now: number) {
  const of = (idx: number) =>
    events
      .filter((e) => (JSON.parse(e.data) as { attempt?: number }).attempt === idx)
      .map((e) => ({ e, d: JSON.parse(e.data) as Record<string, unknown> }));
  const rows = attempts.map((a) => {
    const mine = of(a.idx);
    const notice = mine.find((x) => x.e.kind === "notice");
    const hook = mine.find((x) => x.e.kind === "hook_ran");
    const ended = mine.find((x) => x.e.kind === "attempt_ended");
    const runStarted = mine.find((x) => x.e.kind === "run_started");
    const inst = instances.filter((i) => i.attempt === a.idx);
    const cost = summarize(inst, now);
    return {
      number: a.idx + 1,
      attempt: a.idx,
      spot: a.spot,
      instance_type: a.instance_type,
      instances: inst.map((i) => ({ id: i.id, zone: i.zone, price_usd_per_hour: i.price_per_hour })),
      started_at: toIso(a.started_at),
      run_started_at: runStarted ? toIso(runStarted.e.at) : null,
      ended_at: a.ended_at ? toIso(a.ended_at) : null,
      duration_seconds: Math.round(((a.ended_at ?? now) - a.started_at) / 1000),
      state: a.state,
      end: a.end_kind,
      detail: a.end_detail,
      preempted: a.end_kind === "preempted" || a.end_kind === "lost",
      notice: notice
        ? { at: toIso(notice.e.at), action: notice.d.action, interruption_time: notice.d.time, seen_at: notice.d.seen_at }
        : null,
      hook: hook ? { outcome: hook.d.outcome, ms: hook.d.ms } : null,
      checkpoints: mine
        .filter((x) => x.e.kind === "checkpoint_uploaded")
        .map((x) => ({
          at: toIso(x.e.at),
          generation: x.d.generation,
          bytes: x.d.bytes,
          files: x.d.files,
          ms: x.d.ms,
          reason: x.d.reason,
        })),
      recovery_seconds: null as number | null,
      cost_usd: cost.cost_usd,
      on_demand_baseline_usd: cost.on_demand_baseline_usd,
      ended_event_at: ended ? ended.e.at : null,
      run_started_ms: runStarted ? runStarted.e.at : null,
    };
  });
  // A recovery runs from an attempt's preemption to the next attempt's run starting.
  for (let i = 0; i + 1 < rows.length; i++) {
    const cur = rows[i];
    const next = rows[i + 1];
    if (cur?.preempted && cur.ended_event_at !== null && next?.run_started_ms != null)
      cur.recovery_seconds = Math.round((next.run_started_ms - cur.ended_event_at) / 100) / 10;
  }
  return {
    attempts: rows.map(({ ended_event_at: _e, run_started_ms: _r, ...r }) => r),
    preemptions: rows.filter((r) => r.preempted).length,
    events: events.map((e) => {
      const d = JSON.parse(e.data) as Record<string, unknown>;
      return { seq: e.seq, at: toIso(e.at), kind: e.kind, text: describeEvent(e.kind, d) ?? null, ...d };
    }),
  };
}
export type JobTimeline = ReturnType<typeof jobTimeline>;
