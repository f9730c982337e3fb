import { attemptIdOf, idempotencyKey } from "../../base/ids.js";
import { type LaunchRequest, type Offer, TAG } from "../../providers/provider.js";
import type { Task } from "../../spec/task-schema.js";
import type { JobRow } from "../../state/state-store.js";

/** The price asked for per node: the task's own cap and the hourly budget's share, whichever is lower. Pure. */
export function maxPricePerNode(task: Task): number | undefined {
  const caps = [
    task.resources.max_price,
    task.budget.max_hourly !== undefined ? task.budget.max_hourly / task.num_nodes : undefined,
  ].filter((x): x is number => x !== undefined);
  return caps.length ? Math.min(...caps) : undefined;
}

/**
 * The launch of one attempt. Its idempotency key makes a repeat (after a crash, a timeout, a
 * pre-launch) adopt what the first call made instead of renting a second machine. Pure.
 */
export function launchRequest(
  job: JobRow,
  task: Task,
  storeTag: string,
  idx: number,
  spot: boolean,
  types: string[],
  offer?: Offer,
  /** How many nodes to launch: all of them, or the lost ones of a partial recovery. */
  count = task.num_nodes,
): LaunchRequest {
  const maxPrice = maxPricePerNode(task);
  return {
    token: `${idempotencyKey(attemptIdOf(job.id, idx))}${spot ? "" : "-od"}`,
    instanceTypes: types,
    spot,
    ...(maxPrice !== undefined ? { maxPrice } : {}),
    ...(task.resources.region ? { region: task.resources.region } : {}),
    ...(offer?.zone || task.resources.zone ? { zone: offer?.zone ?? task.resources.zone } : {}),
    ...(offer ? { offer } : {}),
    count,
    tags: {
      [TAG.managed]: storeTag,
      [TAG.job]: job.id,
      [TAG.attempt]: String(idx),
      [TAG.spot]: String(spot),
      ...(task.resources.max_price !== undefined ? { [TAG.maxPrice]: String(task.resources.max_price) } : {}),
      [TAG.onInterruption]: task.resources.on_interruption,
      ...(task.checkpoint.hook ? { [TAG.checkpointScript]: task.checkpoint.hook } : {}),
    },
    resources: task.resources,
    spotSequence: job.spot_requests,
  };
}
