import { InstanceId } from "../../base/ids.js";
import type { InstanceInfo } from "../../providers/provider.js";
import type { AttemptRow } from "../../state/state-store.js";
import type { AgentEventsReconciler } from "./agent-events.js";
import type { BootstrapReconciler } from "./bootstrap.js";
import { setupTimedOut } from "./bootstrap-decisions.js";
import type { BudgetReconciler } from "./budget.js";
import type { DeadlineReconciler } from "./deadline.js";
import type { JobContext, ReconcilerDeps } from "./deps.js";
import type { HealthReconciler } from "./health.js";
import { goneEnd, judgeNodes, lostNodes } from "./health-decisions.js";
import type { ReplaceReconciler } from "./replace.js";
import type { NodeLoss, Teardown } from "./teardown.js";

export interface SuperviseParts {
  teardown: Teardown;
  bootstrap: BootstrapReconciler;
  agentEvents: AgentEventsReconciler;
  health: HealthReconciler;
  deadline: DeadlineReconciler;
  budget: BudgetReconciler;
  replace: ReplaceReconciler;
}

/**
 * SETTING_UP and RUNNING: one look at the attempt's instances (from the shared observer, not a call
 * per job), then each concern in turn: bootstrap, the agent's events, health, deadline, budget.
 * Returns true when the job is steady (visit it less often).
 */
export class Supervisor {
  constructor(
    private readonly d: ReconcilerDeps,
    private readonly p: SuperviseParts,
  ) {}

  async supervise(ctx: JobContext): Promise<boolean> {
    const { job, task, provider } = ctx;
    const attempt = await this.d.store.attempt(job.id, job.attempt);
    if (!attempt || attempt.state === "ENDED") return true;
    // By node: node 0 is the head (its agent reports, its address is the coordinator's), whenever it was launched.
    const rows = (await this.d.store.instances({ jobId: job.id, attempt: attempt.idx })).sort((a, b) => a.node - b.node);
    const ids = rows.map((r) => InstanceId(r.id));
    // Jobs in transition, under notice, or whose agent did not answer are looked at closely.
    const hurry =
      !attempt.agent_started || attempt.notice_at !== null || attempt.stop_reason !== null || this.p.agentEvents.silent(job.id);
    const seen = await this.d.observer.view(provider, ids, { hurry });
    const sightings = ids.map((id) => seen.get(id) ?? { kind: "missing" as const, since: this.d.clock.now() });
    const verdict = judgeNodes(sightings);
    const infos = sightings.map((s) => (s.kind === "seen" ? s.info : undefined));
    const primary = infos[0];
    if (verdict.kind === "failed") {
      await this.p.teardown.endAttempt(ctx, attempt, "setup_failed", verdict.what);
      return false;
    }
    const ticked = task.recovery.strategy === "deadline" ? provider.tickedMarket?.(task.resources) : undefined;
    if (ticked && (await this.p.deadline.reviewTick(ctx, attempt, primary, ticked))) return false;

    if (!attempt.agent_started) {
      if (verdict.kind === "gone") return this.gone(ctx, attempt, verdict.info, lostNodes(ids, sightings));
      // SETTING_UP has a deadline: an instance that never runs or never answers ends the attempt.
      const timedOut = setupTimedOut({
        now: this.d.clock.now(),
        startedAt: attempt.started_at,
        setupTimeoutMs: task.recovery.setup_timeout ?? 1_200_000,
        lastError: this.p.bootstrap.lastError(job.id, attempt.idx)?.oneLine(),
        waitingFor: infos.find((i) => i?.status !== "running")?.id ?? primary?.id ?? ids[0],
      });
      if (timedOut) {
        await this.p.teardown.endAttempt(ctx, attempt, "setup_failed", timedOut);
        return false;
      }
      // A warm replacement readied on the last attempt's notice: tell it to go, or wait for it.
      if ((await this.p.replace.adopt(ctx, attempt, ids)) !== "bootstrap") return false;
      if (verdict.kind !== "present" || !verdict.running) return false;
      await this.p.bootstrap.run(ctx, attempt, verdict.nodes);
      return false;
    }

    // Read what the agent reported before judging the instance: its last words say why it ended.
    if (primary && primary.status !== "terminated" && (await this.p.agentEvents.ingest(ctx, attempt, primary))) return false;
    if (verdict.kind === "gone") return this.gone(ctx, attempt, verdict.info, lostNodes(ids, sightings));
    if (verdict.kind !== "present") return false;
    const nodes = verdict.nodes;
    if (attempt.notice_at !== null) await this.p.replace.advance(ctx, attempt.idx + 1, nodes);
    if (nodes.length > 1 && (await this.p.health.checkNodes(ctx, attempt, nodes))) return false;
    const head = nodes[0] as InstanceInfo;
    await this.p.health.checkHeartbeat(ctx, attempt, head);
    // Read again, not narrowed: checkHeartbeat ends the attempt in place when node 0 is lost.
    if ((attempt as AttemptRow).state === "ENDED") return false;
    await this.p.budget.check(ctx, attempt, head);
    if (
      task.recovery.strategy === "deadline" &&
      !ticked &&
      job.state === "RUNNING" &&
      attempt.notice_at === null &&
      !attempt.stop_reason
    )
      await this.p.deadline.reviewMarket(ctx, attempt, head);
    // A market that moves in ticks is decided at each tick's decision point, not at the next steady visit.
    return !ticked && attempt.notice_at === null && job.state === "RUNNING";
  }

  private async gone(
    ctx: JobContext,
    attempt: Parameters<Teardown["endAttempt"]>[1],
    info: InstanceInfo | undefined,
    loss: NodeLoss,
  ) {
    const end = goneEnd(info, attempt.spot);
    if (attempt.agent_started) await this.p.agentEvents.recoverLog(ctx, attempt);
    await this.p.teardown.endAttempt(ctx, attempt, end.kind, end.reason, { loss });
    return false;
  }
}
