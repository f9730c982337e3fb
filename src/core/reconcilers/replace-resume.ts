import { TAG } from "../../providers/provider.js";
import type { AttemptRow } from "../../state/state-store.js";
import type { JobContext, ReconcilerDeps } from "./deps.js";
import { decideResume } from "./replace-decisions.js";
import type { Spare, SpareBook } from "./replace-spares.js";

/**
 * Take over the replacement for attempt `idx` that a killed controller left, after the notice on
 * `noticed` (attempt `idx - 1`): the live instances tagged with the job and attempt that no attempt
 * recorded, held as a spare that is starting. Returns "launch" when there is none to take over and
 * it should be launched now, while the noticed attempt still works.
 */
export async function resumeSpare(
  d: ReconcilerDeps,
  book: SpareBook,
  ctx: JobContext,
  idx: number,
  noticed: AttemptRow,
): Promise<"launch" | undefined> {
  const { job, task, provider } = ctx;
  const recorded = await d.store.instances({ jobId: job.id, attempt: idx });
  const ask = noticed.notice_at !== null && noticed.spot && recorded.length === 0;
  const tagged = ask ? await provider.list({ [TAG.managed]: d.storeTag(), [TAG.job]: job.id, [TAG.attempt]: String(idx) }) : [];
  const found = tagged
    .filter((i) => i.status !== "terminated")
    .sort((a, b) => Number(a.tags[TAG.node] ?? 0) - Number(b.tags[TAG.node] ?? 0));
  const r = decideResume({
    replaces: noticed.spot,
    noticed: noticed.notice_at !== null,
    found: found.length,
    recorded: recorded.length,
    nodes: task.num_nodes,
  });
  if (r.kind === "launch") return "launch";
  if (r.kind !== "adopt") return undefined;
  const spare: Spare = {
    jobId: job.id,
    idx,
    phase: "starting",
    spot: found.every((i) => i.spot),
    instanceType: found[0]?.instanceType ?? noticed.instance_type,
    instances: found,
    stopAsked: false,
    lastRead: 0,
    provider,
    seq: job.spot_requests - 1,
  };
  book.add(spare);
  d.observer.note(provider, found);
  await d.recorder.event(job.id, {
    kind: "replacement_launched",
    attempt: idx,
    instance_ids: found.map((i) => i.id),
    spot: spare.spot,
    resumed: true,
  });
  d.logger.info({ job: job.id }, `took over the replacement for attempt ${idx + 1}: ${found.map((i) => i.id).join(", ")}`);
  return undefined;
}
