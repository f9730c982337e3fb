import type { LaunchResult, Offer } from "../../providers/provider.js";
import type { AttemptRow } from "../../state/state-store.js";
import { recordFailover } from "../failover-plan.js";
import { failoverPolicyJson, failoverStateOf } from "../stored-policy.js";
import type { DeadlineReconciler } from "./deadline.js";
import type { JobContext, ReconcilerDeps } from "./deps.js";
import { decideRefusal, refusalFix } from "./launch-decisions.js";
import type { Teardown } from "./teardown.js";

/**
 * A launch the provider refused (no capacity, a price, a quota): fall back to on-demand, fail over
 * to the next pool, or end the attempt (and the job, past max_launch_failures), as the task says.
 */
export async function handleRefusal(
  d: ReconcilerDeps,
  deadline: DeadlineReconciler,
  teardown: Teardown,
  /** Launch again (on-demand, after the fallback is recorded). */
  retry: () => Promise<void>,
  ctx: JobContext,
  attempt: AttemptRow,
  result: Extract<LaunchResult, { kind: "refused" }>,
  offer: Offer | undefined,
): Promise<void> {
  const { job, task, provider } = ctx;
  const spot = attempt.spot;
  await d.recorder.event(job.id, {
    kind: "launch_refused",
    attempt: attempt.idx,
    code: result.code,
    message: result.message,
    spot,
  });
  const deadlineSaysOnDemand =
    spot &&
    task.recovery.strategy === "deadline" &&
    !provider.tickedMarket?.(task.resources) &&
    (await deadline.decision(ctx, "none", false)).choice === "on_demand";
  const failover = task.recovery.strategy === "failover" ? failoverStateOf(job.policy_json, job.id) : undefined;
  const action = decideRefusal({
    spot,
    refusal: result.refusal,
    fallbackOnDemand: task.resources.fallback_on_demand,
    deadlineSaysOnDemand,
    failingOver: failover !== undefined && offer !== undefined,
    launchFailures: job.launch_failures,
    maxLaunchFailures: task.recovery.max_launch_failures,
  });
  if (action.kind === "fallback_on_demand") {
    await d.store.transaction(async (tx) => {
      await tx.updateAttempt(job.id, attempt.idx, { spot: false });
      await d.recorder.event(job.id, { kind: "fallback_on_demand", attempt: attempt.idx, code: result.code }, tx);
    });
    d.logger.info({ job: job.id }, `spot refused (${result.code}); falling back to on-demand`);
    return retry();
  }
  if (action.kind === "fail_over" && failover && offer) {
    // Walk on: the refused pool is blocked for a while and the next offer is tried at once.
    const next = recordFailover(failover, { kind: "refused", offer, atMs: d.clock.now(), refusal: result.refusal });
    const policyJson = failoverPolicyJson(next);
    await d.store.updateJob(job.id, { policy_json: policyJson });
    job.policy_json = policyJson;
    await teardown.endAttempt(
      ctx,
      attempt,
      "launch_failed",
      `provider refused: ${result.code} — ${result.message}; failing over`,
      {
        fatal: action.fatal,
        immediate: true,
      },
    );
    return;
  }
  const why = `provider refused: ${result.code} — ${result.message}`;
  await teardown.endAttempt(
    ctx,
    attempt,
    "launch_failed",
    action.fatal
      ? `${why}; ${job.launch_failures + 1} launch${job.launch_failures ? "es" : ""} refused — ${refusalFix(result.refusal, spot, task)}`
      : why,
    { fatal: action.fatal },
  );
}
