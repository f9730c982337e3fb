import { errorMessage } from "../../base/errors.js";
import type { LaunchResult } from "../../providers/provider.js";
import type { JobContext, ReconcilerDeps } from "./deps.js";
import { launchRequest } from "./launch-request.js";
import { endSpareInstances } from "./replace-abandon.js";
import type { Spare, SpareBook } from "./replace-spares.js";
import { recordSpareEnded } from "./spare-rows.js";

/**
 * Rent the replacement's instances (spot, or on demand when spot is refused and the task falls
 * back), then mark it starting; a launch that fails or is refused gives it up, and what a launch
 * rents after its job ended is ended. `prelaunched`: the rebalance pre-launch already rented this
 * attempt under its own key, and this launch adopts that one.
 */
export function launchSpare(
  d: ReconcilerDeps,
  book: SpareBook,
  ctx: JobContext,
  spare: Spare,
  prelaunched: boolean,
): Promise<void> {
  return rent(d, book, ctx, spare, prelaunched).catch(async (e) => {
    book.remove(spare.jobId, spare.idx);
    await d.recorder.event(ctx.job.id, { kind: "replacement_abandoned", attempt: spare.idx, reason: errorMessage(e) });
  });
}

async function rent(d: ReconcilerDeps, book: SpareBook, ctx: JobContext, spare: Spare, prelaunched: boolean): Promise<void> {
  const { job, task, provider } = ctx;
  const storeTag = d.storeTag();
  // A key of its own: a replacement given up (reclaimed, set up wrong) must not be what the
  // recovery's launch adopts; the recovery records these instances itself.
  const own = !prelaunched;
  const ask = async (spot: boolean) => {
    // Read fresh: the job's row in this visit's context is older than this background launch.
    const fresh = (await d.store.job(job.id)) ?? job;
    const req = launchRequest(fresh, task, storeTag, spare.idx, spot, [spare.instanceType].filter(Boolean));
    // A spot request like any attempt's (the provider's market counts them), counted with the
    // notice; the recovery that adopts it does not ask again.
    const asked = { ...req, ...(spot ? { spotSequence: spare.seq } : {}) };
    return provider.launch(own ? { ...asked, token: `${req.token}-r` } : asked);
  };
  let r: LaunchResult = await ask(true);
  if (r.kind === "refused" && task.resources.fallback_on_demand) {
    // Spot refused for the replacement: the task's fallback, as for any attempt.
    await d.recorder.event(job.id, { kind: "fallback_on_demand", attempt: spare.idx, code: r.code });
    spare.spot = false;
    r = await ask(false);
  }
  if (r.kind === "refused") {
    book.remove(job.id, spare.idx);
    await d.recorder.event(job.id, {
      kind: "replacement_abandoned",
      attempt: spare.idx,
      reason: `provider refused: ${r.code} — ${r.message}`,
    });
    return;
  }
  if (!book.holds(spare)) {
    // The job ended while this launch was in flight: nothing will adopt what it rented.
    await endSpareInstances(
      d,
      provider,
      r.instances.map((i) => i.id),
    );
    await recordSpareEnded(d, job.id, r.instances, "ended with its job");
    return;
  }
  spare.instances = r.instances;
  spare.instanceType = r.instances[0]?.instanceType ?? spare.instanceType;
  spare.phase = "starting";
  d.observer.note(provider, r.instances);
  await d.recorder.event(job.id, {
    kind: "replacement_launched",
    attempt: spare.idx,
    instance_ids: r.instances.map((i) => i.id),
    spot: spare.spot,
  });
  d.wake(job.id);
}
