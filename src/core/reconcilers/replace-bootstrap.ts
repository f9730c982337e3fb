import { agentPaths, parseEventLines } from "../../agent/protocol.js";
import { errorMessage } from "../../base/errors.js";
import type { BootstrapReport } from "../../bootstrap/bootstrap-agent.js";
import type { InstanceInfo } from "../../providers/provider.js";
import { type BootstrapReconciler, bootstrapEvent } from "./bootstrap.js";
import type { JobContext, ReconcilerDeps } from "./deps.js";
import { abandonSpare } from "./replace-abandon.js";
import { type SpareAgents, spareAgents } from "./replace-decisions.js";
import type { Spare, SpareBook } from "./replace-spares.js";

/**
 * Ship and start the replacement's agents, told to wait for the go: they run setup and wait. Then
 * it is setting up; a node that fails to start gives the replacement up.
 */
export async function bootstrapSpare(
  d: ReconcilerDeps,
  bootstrap: BootstrapReconciler,
  book: SpareBook,
  ctx: JobContext,
  spare: Spare,
): Promise<void> {
  const { job } = ctx;
  const results = await bootstrap.startAgents(ctx, spare.idx, spare.instances, { waitForGo: true });
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) return abandonSpare(d, book, ctx, spare, `bootstrap failed: ${errorMessage(failed.reason)}`);
  const reports = results.map((r) => (r as PromiseFulfilledResult<BootstrapReport>).value);
  await d.store.transaction(async (tx) => {
    for (const [node, r] of reports.entries()) await d.recorder.event(job.id, bootstrapEvent(spare.idx, node, r), tx);
    await d.recorder.event(job.id, { kind: "replacement_setting_up", attempt: spare.idx }, tx);
  });
  spare.phase = "setting_up";
  d.wake(job.id);
}

/** What the replacement's agents say so far, from each node's event file (a node not read counts as unknown). */
export async function readSpareAgents(
  d: ReconcilerDeps,
  ctx: JobContext,
  instances: readonly InstanceInfo[],
): Promise<SpareAgents> {
  return spareAgents(await Promise.all(instances.map((i) => readEvents(d, ctx, i))));
}

async function readEvents(
  d: ReconcilerDeps,
  ctx: JobContext,
  info: InstanceInfo,
): Promise<{ kind: string; outcome?: string }[] | undefined> {
  try {
    const t = await d.transports.get(ctx.provider, info);
    const bytes = await t.readFile(agentPaths().events);
    return bytes ? parseEventLines(bytes.toString("utf8")).events : [];
  } catch {
    return undefined;
  }
}
