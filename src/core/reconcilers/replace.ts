import type { InstanceInfo } from "../../providers/provider.js";
import { replacesOnNotice } from "../../spec/task-schema.js";
import type { AttemptRow } from "../../state/state-store.js";
import type { BootstrapReconciler } from "./bootstrap.js";
import type { JobContext, ReconcilerDeps } from "./deps.js";
import { judgeNodes } from "./health-decisions.js";
import { abandonSpare } from "./replace-abandon.js";
import { bootstrapSpare, readSpareAgents } from "./replace-bootstrap.js";
import { decideAdoption, decideSpare, replacementOnNotice, spareAgents } from "./replace-decisions.js";
import { adoptSpare, askOldTrainerToStop } from "./replace-handover.js";
import { launchSpare } from "./replace-launch.js";
import { resumeSpare } from "./replace-resume.js";
import { type Spare, SpareBook } from "./replace-spares.js";

/** How often a replacement's agents are read while it sets up. */
const READ_EVERY_MS = 500;

/**
 * recovery.replace_on_notice: on an interruption notice, launch the next attempt's instances at
 * once (tagged with that attempt, under a key of their own; the recovery records them instead of
 * launching), ship their agents, which run setup
 * and wait; when they wait, ask the old trainer to stop (its agent otherwise stops by the deadline
 * less its checkpoint budget). The recovery then tells them to go: they restore the final
 * generation and start. What it does not adopt it ends. A controller started after its
 * predecessor was killed takes over the replacement that one left (`resume`) rather than renting
 * a second; what nobody takes over the reaper ends (it keeps job.attempt+1 only while the job lives).
 *
 * This class holds the spares and moves them on (decisions in replace-decisions.ts); each step is
 * a module of its own: replace-launch (renting), replace-bootstrap (agents that wait for the go),
 * replace-handover (old trainer stops, replacement goes), replace-resume (taking over a killed
 * controller's), replace-abandon (giving one up).
 */
export class ReplaceReconciler {
  private readonly book = new SpareBook();

  constructor(
    private readonly d: ReconcilerDeps,
    private readonly bootstrap: BootstrapReconciler,
    /** The rebalance pre-launch already rented attempt `idx` under its own key: the replacement is that one. */
    private readonly prelaunched: (jobId: string, idx: number) => boolean = () => false,
  ) {}

  /**
   * The job ended (cancelled, succeeded, failed) or left this controller: no attempt will adopt its
   * replacement. Its instances are the teardown's to end (Teardown.endTagged, one listing of the
   * job's tag when it ends); a launch still in flight ends what it rents when it returns.
   */
  forgetJob(jobId: string): void {
    this.book.forgetJob(jobId);
  }

  /** The market the replacement for attempt `idx` was rented in (the recovery asks for the same, to adopt it). */
  market(jobId: string, idx: number): { spot: boolean; instanceType: string } | undefined {
    const s = this.book.get(jobId, idx);
    return s && s.phase !== "launching" ? { spot: s.spot, instanceType: s.instanceType } : undefined;
  }

  /** The replacement's instances for attempt `idx` (the recovery records these instead of launching). */
  instances(jobId: string, idx: number): InstanceInfo[] | "launching" | undefined {
    const s = this.book.get(jobId, idx);
    if (!s) return undefined;
    return s.phase === "launching" ? "launching" : s.instances;
  }

  /** A notice on `attempt` was applied: launch its replacement (once). */
  onNotice(ctx: JobContext, attempt: AttemptRow): void {
    const { job, task } = ctx;
    if (!replacementOnNotice(task, attempt)) return;
    const idx = attempt.idx + 1;
    if (this.book.known(job.id, idx)) return;
    this.book.settle(job.id, idx);
    const spare: Spare = {
      jobId: job.id,
      idx,
      phase: "launching",
      spot: true,
      instanceType: attempt.instance_type,
      instances: [],
      stopAsked: false,
      lastRead: 0,
      provider: ctx.provider,
      // The notice's transaction counted it: the last request of the job's so far.
      seq: job.spot_requests - 1,
    };
    this.book.add(spare);
    this.d.background(launchSpare(this.d, this.book, ctx, spare, this.prelaunched(job.id, idx)));
  }

  /**
   * No replacement of this controller's for attempt `idx` although attempt `idx - 1` was noticed
   * (the controller that applied the notice was killed): take over the one it rented, found by the
   * job's and attempt's tags, or launch it while the noticed attempt (`oldLive`) still works. Once
   * per attempt and controller; the recovery asks before it launches, the noticed attempt's visit
   * before it waits for the replacement.
   */
  async resume(ctx: JobContext, idx: number): Promise<void> {
    const { job, task } = ctx;
    if (idx < 1 || this.book.known(job.id, idx) || !replacesOnNotice(task)) return;
    const noticed = await this.d.store.attempt(job.id, idx - 1);
    if (!noticed) return;
    this.book.settle(job.id, idx);
    if ((await resumeSpare(this.d, this.book, ctx, idx, noticed)) === "launch") {
      this.book.unsettle(job.id, idx);
      this.onNotice(ctx, noticed);
    }
  }

  /**
   * Move the job's replacement on (called on each visit of the noticed attempt, with `oldNodes`, its
   * running instances, told to stop once the replacement is ready; and of the one that adopts it).
   */
  async advance(ctx: JobContext, idx: number, oldNodes?: readonly InstanceInfo[]): Promise<void> {
    if (oldNodes && !this.book.get(ctx.job.id, idx)) await this.resume(ctx, idx);
    const spare = this.book.get(ctx.job.id, idx);
    if (!spare) return;
    const now = this.d.clock.now();
    let agents = spareAgents([]);
    let nodes: ReturnType<typeof judgeNodes> | undefined;
    if (spare.phase !== "launching" && spare.phase !== "bootstrapping") {
      const ids = spare.instances.map((i) => i.id);
      const seen = await this.d.observer.view(ctx.provider, ids, { hurry: true });
      nodes = judgeNodes(ids.map((id) => seen.get(id) ?? { kind: "missing" as const, since: now }));
      if (nodes.kind === "present") spare.instances = nodes.nodes;
    }
    if (spare.phase === "setting_up" || spare.phase === "ready") {
      if (now - spare.lastRead < READ_EVERY_MS) return;
      spare.lastRead = now;
      agents = await readSpareAgents(this.d, ctx, spare.instances);
    }
    const action = decideSpare({ phase: spare.phase, nodes, agents, spot: spare.spot });
    switch (action.kind) {
      case "wait":
        break;
      case "bootstrap":
        spare.phase = "bootstrapping";
        this.d.background(bootstrapSpare(this.d, this.bootstrap, this.book, ctx, spare));
        break;
      case "ready":
        spare.phase = "ready";
        await this.d.recorder.event(ctx.job.id, { kind: "replacement_ready", attempt: spare.idx });
        break;
      case "abandon":
        await abandonSpare(this.d, this.book, ctx, spare, action.reason, action.preempted);
        return;
    }
    if (spare.phase === "ready" && !spare.stopAsked && oldNodes && oldNodes.length > 0) {
      spare.stopAsked = true;
      await askOldTrainerToStop(this.d, ctx, oldNodes);
    }
  }

  /**
   * The attempt is recorded on its instances and its agent has not started: if they are the warm
   * replacement's, tell them to go ("adopted"); "wait" while it is on its way; "bootstrap" when
   * there is none (or it was on other instances, and is given up): bootstrap as usual.
   */
  async adopt(ctx: JobContext, attempt: AttemptRow, launched: readonly string[]): Promise<"bootstrap" | "wait" | "adopted"> {
    await this.advance(ctx, attempt.idx);
    const spare = this.book.get(ctx.job.id, attempt.idx);
    const a = decideAdoption(spare && { phase: spare.phase, instanceIds: spare.instances.map((i) => i.id) }, launched);
    if (a.kind === "bootstrap") return "bootstrap";
    if (a.kind === "wait") return "wait";
    if (a.kind === "discard") {
      if (spare) await abandonSpare(this.d, this.book, ctx, spare, "the recovery runs on other instances");
      return "bootstrap";
    }
    await adoptSpare(this.d, this.book, ctx, attempt, spare as Spare);
    return "adopted";
  }
}
