import type { NotifyKind } from "../spec/notify-schema.js";

/**
 * Which notification an event of the log is, if any: the one place that decides it (pure). An
 * event of any other kind is no notification.
 */
export function notificationOf(kind: string, d: Record<string, unknown>): NotifyKind | undefined {
  switch (kind) {
    case "attempt_ended":
      return d.end === "preempted" || d.end === "lost" ? "preempted" : undefined;
    case "run_started":
      return d.restart === true ? "recovered" : undefined;
    case "state_changed":
      return d.to === "FAILED"
        ? "failed"
        : d.to === "SUCCEEDED"
          ? "succeeded"
          : d.to === "OVER_BUDGET"
            ? "over_budget"
            : undefined;
    case "budget_warning":
      return "budget_warning";
    case "checkpoint_stalled":
      return "checkpoint_stalled";
    default:
      return undefined;
  }
}

/** Retry n (from 1) waits 1 s, 2 s, 4 s … up to 5 minutes; after `MAX_ATTEMPTS` the delivery is given up. */
export const retryDelayMs = (attempts: number): number => Math.min(300_000, 1000 * 2 ** Math.max(0, attempts - 1));
export const MAX_ATTEMPTS = 10;

/** The one line a person reads (Slack, the command's $SPOTRUN_MESSAGE). */
export function notificationText(
  kind: NotifyKind,
  job: { id: string; name: string; state: string; cost_usd: number; savings_usd: number; preemptions: number },
  d: Record<string, unknown>,
  money: (x: number) => string,
): string {
  const who = `job ${job.name} (${job.id})`;
  const cost = `cost so far ${money(job.cost_usd)}, saved ${money(job.savings_usd)}`;
  switch (kind) {
    case "preempted":
      return `${who} was ${d.end === "lost" ? "lost (instance gone)" : "preempted"} on attempt ${Number(d.attempt) + 1} — recovering; ${cost}`;
    case "recovered":
      return `${who} recovered: attempt ${Number(d.attempt) + 1} is running after ${job.preemptions} preemption(s); ${cost}`;
    case "failed":
      return `${who} FAILED${d.reason ? `: ${d.reason}` : ""}; ${cost}`;
    case "succeeded":
      return `${who} SUCCEEDED after ${job.preemptions} preemption(s); ${cost}`;
    case "budget_warning":
      return `${who} has spent ${money(Number(d.spent_usd))} of its ${money(Number(d.max_cost_usd))} budget`;
    case "over_budget":
      return `${who} stopped at its budget (${job.state}); ${cost}`;
    case "checkpoint_stalled":
      return `${who}: no new checkpoint for ${Math.round(Number(d.since_ms) / 60_000)} min`;
    case "cost_report":
      return `${who} is ${job.state}; ${cost}`;
  }
}
