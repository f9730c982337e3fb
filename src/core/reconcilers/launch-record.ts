import type { JobId } from "../../base/ids.js";
import type { InstanceInfo } from "../../providers/provider.js";
import type { AttemptRow, InstanceRow } from "../../state/state-store.js";
import { type FailoverState, recordFailover } from "../failover-plan.js";
import { failoverPolicyJson } from "../stored-policy.js";
import type { JobContext, ReconcilerDeps } from "./deps.js";
import { type NodeRow, nodesToLaunch } from "./partial-decisions.js";

/** The store's row for an instance the provider rented, open unless `ended` says when and why it ended. Pure. */
export function instanceRow(
  i: InstanceInfo,
  jobId: JobId,
  attempt: number,
  node: number,
  ended?: { at: number; reason: string },
): InstanceRow {
  return {
    id: i.id,
    job_id: jobId,
    attempt,
    node,
    provider: i.provider,
    instance_type: i.instanceType,
    zone: i.zone ?? null,
    region: i.region ?? null,
    spot: i.spot,
    price_per_hour: i.pricePerHour,
    od_price_per_hour: i.onDemandPricePerHour,
    launched_at: i.launchedAt,
    ended_at: ended?.at ?? null,
    end_reason: ended?.reason ?? null,
    address: i.address ?? null,
  };
}

/**
 * What an attempt rented, in one transaction with its move to SETTING_UP: a row and an event per
 * instance, the nodes kept from the last attempt (recovery.partial) named, the failover walk told.
 */
export async function recordLaunched(
  d: ReconcilerDeps,
  ctx: JobContext,
  attempt: AttemptRow,
  instances: readonly InstanceInfo[],
  failover: { state: FailoverState; offer: NonNullable<FailoverState["pending"]> } | undefined,
  kept: readonly NodeRow[],
): Promise<void> {
  const { job, task } = ctx;
  d.observer.note(ctx.provider, instances);
  // The new instances take the nodes no kept one holds; a whole launch takes 0..N-1.
  const free = nodesToLaunch(
    task.num_nodes,
    kept.map((k) => k.node),
  );
  await d.store.transaction(async (tx) => {
    for (const k of kept)
      await d.recorder.event(job.id, { kind: "instance_kept", attempt: attempt.idx, instance_id: k.id, node: k.node }, tx);
    for (const [n, i] of instances.entries()) {
      await tx.upsertInstance(instanceRow(i, job.id, attempt.idx, free[n] ?? n));
      await d.recorder.event(
        job.id,
        {
          kind: "instance_launched",
          attempt: attempt.idx,
          instance_id: i.id,
          spot: i.spot,
          price_usd_per_hour: i.pricePerHour,
          ...(i.zone ? { zone: i.zone } : {}),
        },
        tx,
      );
    }
    await tx.updateAttempt(job.id, attempt.idx, {
      state: "SETTING_UP",
      instance_type: instances[0]?.instanceType ?? attempt.instance_type,
    });
    const keptNote = kept.length > 0 ? `; ${kept.map((k) => k.id).join(", ")} kept` : "";
    await d.recorder.setState(
      tx,
      job,
      "SETTING_UP",
      `attempt ${attempt.idx + 1}: ${instances.map((i) => i.id).join(", ")} launched${keptNote}`,
      {
        launch_failures: 0,
        ...(failover
          ? {
              policy_json: failoverPolicyJson(
                recordFailover(failover.state, { kind: "launched", offer: failover.offer, atMs: d.clock.now() }),
              ),
            }
          : {}),
      },
    );
  });
}
