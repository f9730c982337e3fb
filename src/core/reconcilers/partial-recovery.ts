import type { JobId } from "../../base/ids.js";
import type { InstanceRow, StateStore } from "../../state/state-store.js";
import type { JobContext } from "./deps.js";
import { keptFitPlan, type NodeRow } from "./partial-decisions.js";
import type { Teardown } from "./teardown.js";

export const asNode = (r: InstanceRow): NodeRow => ({
  id: r.id,
  node: r.node,
  spot: Boolean(r.spot),
  instanceType: r.instance_type,
  pricePerHour: r.price_per_hour,
});

/** The live instances handed to attempt `idx` by the last one's partial loss (recovery.partial), by node. */
export async function keptNodes(store: StateStore, jobId: JobId, idx: number): Promise<NodeRow[]> {
  return (await store.instances({ jobId, attempt: idx, live: true })).map(asNode).sort((a, b) => a.node - b.node);
}

/**
 * The kept nodes attempt `idx` runs with: all of them when the plan fits them, else none (they
 * are ended, and the whole job is launched on the plan's market).
 */
export async function keptForPlan(
  store: StateStore,
  teardown: Teardown,
  ctx: JobContext,
  idx: number,
  plan: { spot: boolean; instanceTypes: readonly string[] },
): Promise<NodeRow[]> {
  const kept = await keptNodes(store, ctx.job.id, idx);
  if (kept.length === 0 || keptFitPlan(kept, plan)) return kept;
  await teardown.terminateAttempt(ctx.job.id, idx, ctx.provider, "the next attempt runs on another market");
  return [];
}
