import { InstanceId } from "../../base/ids.js";
import type { Provider } from "../../providers/provider.js";
import type { JobContext, ReconcilerDeps } from "./deps.js";
import type { Spare, SpareBook } from "./replace-spares.js";
import { recordSpareEnded } from "./spare-rows.js";

/** End a replacement's instances: terminated, no longer observed, their transports dropped. */
export async function endSpareInstances(d: ReconcilerDeps, provider: Provider, ids: string[]): Promise<void> {
  await provider.terminate(ids.map((id) => InstanceId(id)));
  d.observer.ended(provider, ids);
  for (const id of ids) await d.transports.drop(id);
}

/**
 * Give the replacement up and end its instances now: no attempt will use them. One reclaimed
 * before its go (`preempted`) is counted as the job's preemption, as an attempt reclaimed while it
 * sets up is (and as this one is when the recovery has recorded it already): each costs the job a
 * launch.
 */
export async function abandonSpare(
  d: ReconcilerDeps,
  book: SpareBook,
  ctx: JobContext,
  spare: Spare,
  reason: string,
  preempted = false,
): Promise<void> {
  book.remove(spare.jobId, spare.idx);
  await d.store.transaction(async (tx) => {
    await d.recorder.event(
      spare.jobId,
      { kind: "replacement_abandoned", attempt: spare.idx, reason, ...(preempted ? { preempted: true } : {}) },
      tx,
    );
    if (preempted) {
      const job = (await tx.job(spare.jobId)) ?? ctx.job;
      await tx.updateJob(spare.jobId, { preemptions: job.preemptions + 1 });
      ctx.job.preemptions = job.preemptions + 1;
    }
  });
  const ids = spare.instances.map((i) => i.id);
  if (ids.length > 0) await endSpareInstances(d, ctx.provider, ids);
  // What it ran is in the job's cost although no attempt took it.
  await recordSpareEnded(d, spare.jobId, spare.instances, preempted ? "preempted" : "replacement given up");
}
