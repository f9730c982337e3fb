import { formatDuration } from "../base/duration.js";
import { formatUsd } from "../cost/ledger.js";

/** Progress lines a person wants to see while a job runs, from an event's kind and fields; the rest stays in `status`/events. */
export function describeEvent(kind: string, d: Record<string, unknown>): string | undefined {
  switch (kind) {
    case "state_changed":
      return `${d.to}${d.reason ? `: ${d.reason}` : ""}`;
    case "instance_launched":
      return `instance ${d.instance_id} launched (${d.spot ? "spot" : "on-demand"}, ${formatUsd(Number(d.price_usd_per_hour))}/h)`;
    case "instance_kept":
      return `node ${d.node} stays on ${d.instance_id} (only the lost nodes are replaced)`;
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
      return `budget: ${formatUsd(Number(d.spent_usd))} of ${formatUsd(Number(d.max_cost_usd))} spent (80%)`;
    case "budget_exceeded":
      return `budget exceeded: ${formatUsd(Number(d.spent_usd))} of ${formatUsd(Number(d.max_cost_usd))}; stopping with a final checkpoint`;
    case "checkpoint_failed":
      return `warning: checkpoint upload failed: ${d.cause}`;
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
