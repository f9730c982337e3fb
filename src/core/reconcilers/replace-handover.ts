import { agentPaths, type ControlRequest } from "../../agent/protocol.js";
import { errorMessage } from "../../base/errors.js";
import type { InstanceInfo } from "../../providers/provider.js";
import type { AttemptRow } from "../../state/state-store.js";
import { sendGo } from "./bootstrap.js";
import type { JobContext, ReconcilerDeps } from "./deps.js";
import type { Spare, SpareBook } from "./replace-spares.js";

/**
 * The replacement is set up and waiting: ask the noticed attempt's trainer, on `oldNodes`, to
 * checkpoint and stop (its agent otherwise stops by the deadline less its checkpoint budget). A
 * node that cannot be asked is logged, not retried: the deadline stops it.
 */
export async function askOldTrainerToStop(d: ReconcilerDeps, ctx: JobContext, oldNodes: readonly InstanceInfo[]): Promise<void> {
  const stop: ControlRequest = { action: "checkpoint-and-stop", reason: "replacement ready" };
  await Promise.all(
    oldNodes.map(async (n) => (await d.transports.get(ctx.provider, n)).writeFile(agentPaths().control, JSON.stringify(stop))),
  ).catch((e) => d.logger.warn({ job: ctx.job.id, err: errorMessage(e) }, "could not ask the old trainer to stop"));
}

/**
 * The attempt is recorded on the replacement's instances: tell its agents to go (they restore the
 * newest generation and start), and record the attempt's agent as started, with the adoption.
 */
export async function adoptSpare(
  d: ReconcilerDeps,
  book: SpareBook,
  ctx: JobContext,
  attempt: AttemptRow,
  spare: Spare,
): Promise<void> {
  await sendGo(d, ctx, spare.instances);
  book.remove(ctx.job.id, attempt.idx);
  await d.store.transaction(async (tx) => {
    await tx.updateAttempt(ctx.job.id, attempt.idx, { agent_started: true, last_heartbeat: d.clock.now() });
    await d.recorder.event(
      ctx.job.id,
      { kind: "replacement_adopted", attempt: attempt.idx, instance_ids: spare.instances.map((i) => i.id) },
      tx,
    );
    await d.recorder.event(ctx.job.id, { kind: "agent_started", attempt: attempt.idx }, tx);
  });
  attempt.agent_started = true;
}
