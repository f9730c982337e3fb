import type { JobId } from "../../base/ids.js";
import type { InstanceInfo } from "../../providers/provider.js";
import { SPARE_ATTEMPT } from "../../state/schema.js";
import type { ReconcilerDeps } from "./deps.js";
import { instanceRow } from "./launch-record.js";

/**
 * A spare no attempt took (a warm replacement given up, or ended with its job) cost what it ran:
 * its rows go into the job's ledger, ended now, under SPARE_ATTEMPT so no attempt counts them as
 * its nodes. Written once; a row already there (the spare was an attempt's after all) is kept.
 */
export async function recordSpareEnded(
  d: ReconcilerDeps,
  jobId: JobId,
  instances: readonly InstanceInfo[],
  reason: string,
): Promise<void> {
  if (instances.length === 0) return;
  const now = d.clock.now();
  const known = new Set((await d.store.instances({ jobId })).map((r) => r.id));
  await d.store.transaction(async (tx) => {
    for (const [node, i] of instances.entries()) {
      if (known.has(i.id)) continue;
      await tx.upsertInstance(
        instanceRow(i, jobId, SPARE_ATTEMPT, node, { at: Math.max(i.launchedAt, i.endedAt ?? now), reason }),
      );
    }
  });
}
