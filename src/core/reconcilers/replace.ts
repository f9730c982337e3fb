import { agentPaths, type ControlRequest, parseEventLines } from "../../agent/protocol.js";
import { errorMessage } from "../../base/errors.js";
import { InstanceId } from "../../base/ids.js";
import type { BootstrapReport } from "../../bootstrap/bootstrap-agent.js";
import { type InstanceInfo, type LaunchResult, type Provider, TAG } from "../../providers/provider.js";
import { replacesOnNotice } from "../../spec/task-schema.js";
import type { AttemptRow } from "../../state/state-store.js";
import type { BootstrapReconciler } from "./bootstrap.js";
import { bootstrapEvent, sendGo } from "./bootstrap.js";
import type { JobContext, ReconcilerDeps } from "./deps.js";
import { judgeNodes } from "./health-decisions.js";
import { launchRequest } from "./launch-request.js";
import {
  decideAdoption,
  decideResume,
  decideSpare,
  replacementOnNotice,
  type SparePhase,
  spareAgents,
} from "./replace-decisions.js";
import { recordSpareEnded } from "./spare-rows.js";

interface Spare {
  jobId: string;
  /** The attempt it is for: the noticed attempt's next. */
  idx: number;
  phase: SparePhase;
  spot: boolean;
  instanceType: string;
  instances: InstanceInfo[];
  /** Set once the old trainer was asked to stop. */
  stopAsked: boolean;
  lastRead: number;
  provider: Provider;
  /** Its spot request's number among the job's, counted with the notice. */
  seq: number;
}

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
 */
export class ReplaceReconciler {
  private readonly spares = new Map<string, Spare>();
  /** Replacements this controller launched or looked for (`job:idx`): each is launched once, given up for good. */
  private readonly settled = new Set<string>();

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
    for (const k of this.settled) if (k.startsWith(`${jobId}:`)) this.settled.delete(k);
    for (const k of this.spares.keys()) if (k.startsWith(`${jobId}:`)) this.spares.delete(k);
  }

  /** The market the replacement for attempt `idx` was rented in (the recovery asks for the same, to adopt it). */
  market(jobId: string, idx: number): { spot: boolean; instanceType: string } | undefined {
    const s = this.spares.get(`${jobId}:${idx}`);
    return s && s.phase !== "launching" ? { spot: s.spot, instanceType: s.instanceType } : undefined;
  }

  /** The replacement's instances for attempt `idx` (the recovery records these instead of launching). */
  instances(jobId: string, idx: number): InstanceInfo[] | "launching" | undefined {
    const s = this.spares.get(`${jobId}:${idx}`);
    if (!s) return undefined;
    return s.phase === "launching" ? "launching" : s.instances;
  }

  /** A notice on `attempt` was applied: launch its replacement (once). */
  onNotice(ctx: JobContext, attempt: AttemptRow): void {
    const { job, task } = ctx;
    if (!replacementOnNotice(task, attempt)) return;
    const key = `${job.id}:${attempt.idx + 1}`;
    if (this.spares.has(key) || this.settled.has(key)) return;
    this.settled.add(key);
    const spare: Spare = {
      jobId: job.id,
      idx: attempt.idx + 1,
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
    this.spares.set(key, spare);
    this.d.background(
      this.launch(ctx, spare).catch(async (e) => {
        this.spares.delete(key);
        await this.d.recorder.event(job.id, { kind: "replacement_abandoned", attempt: spare.idx, reason: errorMessage(e) });
      }),
    );
  }

  private async launch(ctx: JobContext, spare: Spare): Promise<void> {
    const { job, task, provider } = ctx;
    const storeTag = this.d.storeTag();
    // A key of its own: a replacement given up (reclaimed, set up wrong) must not be what the
    // recovery's launch adopts; the recovery records these instances itself.
    const own = !this.prelaunched(job.id, spare.idx);
    const ask = async (spot: boolean) => {
      // Read fresh: the job's row in this visit's context is older than this background launch.
      const fresh = (await this.d.store.job(job.id)) ?? job;
      const req = launchRequest(fresh, task, storeTag, spare.idx, spot, [spare.instanceType].filter(Boolean));
      // A spot request like any attempt's (the provider's market counts them), counted with the
      // notice; the recovery that adopts it does not ask again.
      const asked = { ...req, ...(spot ? { spotSequence: spare.seq } : {}) };
      return provider.launch(own ? { ...asked, token: `${req.token}-r` } : asked);
    };
    let r: LaunchResult = await ask(true);
    if (r.kind === "refused" && task.resources.fallback_on_demand) {
      // Spot refused for the replacement: the task's fallback, as for any attempt.
      await this.d.recorder.event(job.id, { kind: "fallback_on_demand", attempt: spare.idx, code: r.code });
      spare.spot = false;
      r = await ask(false);
    }
    if (r.kind === "refused") {
      this.spares.delete(`${job.id}:${spare.idx}`);
      await this.d.recorder.event(job.id, {
        kind: "replacement_abandoned",
        attempt: spare.idx,
        reason: `provider refused: ${r.code} — ${r.message}`,
      });
      return;
    }
    if (this.spares.get(`${job.id}:${spare.idx}`) !== spare) {
      // The job ended while this launch was in flight: nothing will adopt what it rented.
      await this.end(
        provider,
        r.instances.map((i) => i.id),
      );
      await recordSpareEnded(this.d, job.id, r.instances, "ended with its job");
      return;
    }
    spare.instances = r.instances;
    spare.instanceType = r.instances[0]?.instanceType ?? spare.instanceType;
    spare.phase = "starting";
    this.d.observer.note(provider, r.instances);
    await this.d.recorder.event(job.id, {
      kind: "replacement_launched",
      attempt: spare.idx,
      instance_ids: r.instances.map((i) => i.id),
      spot: spare.spot,
    });
    this.d.wake(job.id);
  }

  /**
   * No replacement of this controller's for attempt `idx` although attempt `idx - 1` was noticed
   * (the controller that applied the notice was killed): take over the one it rented, found by the
   * job's and attempt's tags, or launch it while the noticed attempt (`oldLive`) still works. Once
   * per attempt and controller; the recovery asks before it launches, the noticed attempt's visit
   * before it waits for the replacement.
   */
  async resume(ctx: JobContext, idx: number): Promise<void> {
    const { job, task, provider } = ctx;
    const key = `${job.id}:${idx}`;
    if (idx < 1 || this.spares.has(key) || this.settled.has(key) || !replacesOnNotice(task)) return;
    const noticed = await this.d.store.attempt(job.id, idx - 1);
    if (!noticed) return;
    this.settled.add(key);
    const recorded = await this.d.store.instances({ jobId: job.id, attempt: idx });
    const ask = noticed.notice_at !== null && noticed.spot && recorded.length === 0;
    const tagged = ask
      ? await provider.list({ [TAG.managed]: this.d.storeTag(), [TAG.job]: job.id, [TAG.attempt]: String(idx) })
      : [];
    const found = tagged
      .filter((i) => i.status !== "terminated")
      .sort((a, b) => Number(a.tags[TAG.node] ?? 0) - Number(b.tags[TAG.node] ?? 0));
    const r = decideResume({
      replaces: noticed.spot,
      noticed: noticed.notice_at !== null,
      found: found.length,
      recorded: recorded.length,
      nodes: task.num_nodes,
    });
    if (r.kind === "launch") {
      this.settled.delete(key);
      this.onNotice(ctx, noticed);
      return;
    }
    if (r.kind !== "adopt") return;
    const spare: Spare = {
      jobId: job.id,
      idx,
      phase: "starting",
      spot: found.every((i) => i.spot),
      instanceType: found[0]?.instanceType ?? noticed.instance_type,
      instances: found,
      stopAsked: false,
      lastRead: 0,
      provider,
      seq: job.spot_requests - 1,
    };
    this.spares.set(key, spare);
    this.d.observer.note(provider, found);
    await this.d.recorder.event(job.id, {
      kind: "replacement_launched",
      attempt: idx,
      instance_ids: found.map((i) => i.id),
      spot: spare.spot,
      resumed: true,
    });
    this.d.logger.info({ job: job.id }, `took over the replacement for attempt ${idx + 1}: ${found.map((i) => i.id).join(", ")}`);
  }

  /**
   * Move the job's replacement on (called on each visit of the noticed attempt, with `oldNodes`, its
   * running instances, told to stop once the replacement is ready; and of the one that adopts it).
   */
  async advance(ctx: JobContext, idx: number, oldNodes?: readonly InstanceInfo[]): Promise<void> {
    if (oldNodes && !this.spares.has(`${ctx.job.id}:${idx}`)) await this.resume(ctx, idx);
    const spare = this.spares.get(`${ctx.job.id}:${idx}`);
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
      agents = spareAgents(await Promise.all(spare.instances.map((i) => this.readEvents(ctx, i))));
    }
    const action = decideSpare({ phase: spare.phase, nodes, agents, spot: spare.spot });
    switch (action.kind) {
      case "wait":
        break;
      case "bootstrap":
        spare.phase = "bootstrapping";
        this.d.background(this.ship(ctx, spare));
        break;
      case "ready":
        spare.phase = "ready";
        await this.d.recorder.event(ctx.job.id, { kind: "replacement_ready", attempt: spare.idx });
        break;
      case "abandon":
        await this.abandon(ctx, spare, action.reason, action.preempted);
        return;
    }
    if (spare.phase === "ready" && !spare.stopAsked && oldNodes && oldNodes.length > 0) {
      spare.stopAsked = true;
      const stop: ControlRequest = { action: "checkpoint-and-stop", reason: "replacement ready" };
      await Promise.all(
        oldNodes.map(async (n) =>
          (await this.d.transports.get(ctx.provider, n)).writeFile(agentPaths().control, JSON.stringify(stop)),
        ),
      ).catch((e) => this.d.logger.warn({ job: ctx.job.id, err: errorMessage(e) }, "could not ask the old trainer to stop"));
    }
  }

  /**
   * The attempt is recorded on its instances and its agent has not started: if they are the warm
   * replacement's, tell them to go (true: nothing more to bootstrap, or wait for it).
   */
  async adopt(ctx: JobContext, attempt: AttemptRow, launched: readonly string[]): Promise<"bootstrap" | "wait" | "adopted"> {
    const key = `${ctx.job.id}:${attempt.idx}`;
    await this.advance(ctx, attempt.idx);
    const spare = this.spares.get(key);
    const a = decideAdoption(spare && { phase: spare.phase, instanceIds: spare.instances.map((i) => i.id) }, launched);
    if (a.kind === "bootstrap") return "bootstrap";
    if (a.kind === "wait") return "wait";
    if (a.kind === "discard") {
      if (spare) await this.abandon(ctx, spare, "the recovery runs on other instances");
      return "bootstrap";
    }
    const s = spare as Spare;
    await sendGo(this.d, ctx, s.instances);
    this.spares.delete(key);
    await this.d.store.transaction(async (tx) => {
      await tx.updateAttempt(ctx.job.id, attempt.idx, { agent_started: true, last_heartbeat: this.d.clock.now() });
      await this.d.recorder.event(
        ctx.job.id,
        { kind: "replacement_adopted", attempt: attempt.idx, instance_ids: s.instances.map((i) => i.id) },
        tx,
      );
      await this.d.recorder.event(ctx.job.id, { kind: "agent_started", attempt: attempt.idx }, tx);
    });
    attempt.agent_started = true;
    return "adopted";
  }

  private async ship(ctx: JobContext, spare: Spare): Promise<void> {
    const { job } = ctx;
    const results = await this.bootstrap.startAgents(ctx, spare.idx, spare.instances, { waitForGo: true });
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) return this.abandon(ctx, spare, `bootstrap failed: ${errorMessage(failed.reason)}`);
    const reports = results.map((r) => (r as PromiseFulfilledResult<BootstrapReport>).value);
    await this.d.store.transaction(async (tx) => {
      for (const [node, r] of reports.entries()) await this.d.recorder.event(job.id, bootstrapEvent(spare.idx, node, r), tx);
      await this.d.recorder.event(job.id, { kind: "replacement_setting_up", attempt: spare.idx }, tx);
    });
    spare.phase = "setting_up";
    this.d.wake(job.id);
  }

  private async readEvents(ctx: JobContext, info: InstanceInfo): Promise<{ kind: string; outcome?: string }[] | undefined> {
    try {
      const t = await this.d.transports.get(ctx.provider, info);
      const bytes = await t.readFile(agentPaths().events);
      return bytes ? parseEventLines(bytes.toString("utf8")).events : [];
    } catch {
      return undefined;
    }
  }

  /**
   * End the replacement's instances now: no attempt will use them. One reclaimed before its go
   * (`preempted`) is counted as the job's preemption, as an attempt reclaimed while it sets up is
   * (and as this one is when the recovery has recorded it already): each costs the job a launch.
   */
  private async abandon(ctx: JobContext, spare: Spare, reason: string, preempted = false): Promise<void> {
    this.spares.delete(`${spare.jobId}:${spare.idx}`);
    await this.d.store.transaction(async (tx) => {
      await this.d.recorder.event(
        spare.jobId,
        { kind: "replacement_abandoned", attempt: spare.idx, reason, ...(preempted ? { preempted: true } : {}) },
        tx,
      );
      if (preempted) {
        const job = (await tx.job(spare.jobId)) ?? ctx.job;
        await tx.updateJob(spare.jobId, { preemptions: job.preemptions + 1 });
        ctx.job.preemptions = job.preemptions + 1;
      }
    });
    const ids = spare.instances.map((i) => i.id);
    if (ids.length > 0) await this.end(ctx.provider, ids);
    // What it ran is in the job's cost although no attempt took it.
    await recordSpareEnded(this.d, spare.jobId, spare.instances, preempted ? "preempted" : "replacement given up");
  }

  private async end(provider: Provider, ids: string[]): Promise<void> {
    await provider.terminate(ids.map((id) => InstanceId(id)));
    this.d.observer.ended(provider, ids);
    for (const id of ids) await this.d.transports.drop(id);
  }
}
