import { type AgentEvent, agentPaths, parseEventLines } from "../../agent/protocol.js";
import type { InstanceInfo } from "../../providers/provider.js";
import type { AttemptRow } from "../../state/state-store.js";
import type { JobContext, ReconcilerDeps } from "./deps.js";
import { judgeHeartbeat, nodeExitEnd, nodeLost } from "./health-decisions.js";
import type { Teardown } from "./teardown.js";

type AgentExit = Extract<AgentEvent, { kind: "agent_exit" }>;

/** A read of an instance that does not answer in time counts as no answer (the network is not waited on forever). */
export function withinMs<T>(p: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.catch(() => fallback),
    new Promise<T>((r) => {
      timer = setTimeout(() => r(fallback), ms);
      timer.unref();
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Is the attempt's agent alive: node 0's heartbeat, and on a multi-node job every node's
 * heartbeat and the exit another node's agent may have reported on its own.
 */
export class HealthReconciler {
  private readonly unreachableSince = new Map<string, number>();
  private readonly lastNodeCheck = new Map<string, number>();
  /** How far each secondary node's event log has been read, and its agent's exit once seen. */
  private readonly nodeEvents = new Map<string, { offset: number; exit?: AgentExit }>();

  constructor(
    private readonly d: ReconcilerDeps,
    private readonly teardown: Teardown,
    private readonly heartbeatTimeoutMs: number,
    /** The agent's heartbeat as its event channel carries it, when it does. */
    private readonly streamedBeat: (instanceId: string) => number | undefined = () => undefined,
  ) {}

  forgetJob(jobId: string): void {
    this.lastNodeCheck.delete(jobId);
  }

  forgetInstance(id: string): void {
    this.unreachableSince.delete(id);
    this.nodeEvents.delete(id);
  }

  /**
   * Multi-node jobs run as one: every couple of seconds each node's heartbeat is read; a node that
   * cannot be reached for `lossMs` (or whose agent went silent) ends the attempt on all of them.
   * Returns true if it did.
   */
  async checkNodes(ctx: JobContext, attempt: AttemptRow, nodes: InstanceInfo[]): Promise<boolean> {
    const { job } = ctx;
    const now = this.d.clock.now();
    if (now - (this.lastNodeCheck.get(job.id) ?? 0) < 2000) return false;
    this.lastNodeCheck.set(job.id, now);
    const lossMs = Math.min(this.heartbeatTimeoutMs, 10_000);
    for (const [i, info] of nodes.entries()) {
      const beat = await withinMs(
        this.d.transports
          .get(ctx.provider, info)
          .then((t) => t.readFile(agentPaths().heartbeat))
          .then((b) => Number(b?.toString())),
        3000,
        Number.NaN,
      );
      const alive = Number.isFinite(beat) && now - beat < lossMs;
      if (i > 0) {
        // Node 0 reports for the job; another node's agent that ended on its own says why here.
        const exit = await this.nodeExit(ctx, info);
        const end = exit && nodeExitEnd(i, info.id, exit);
        if (end) {
          await this.teardown.endAttempt(ctx, attempt, end.kind, end.detail, { loss: { lost: [info.id], seen: nodes } });
          return true;
        }
      }
      if (alive) {
        this.unreachableSince.delete(info.id);
        continue;
      }
      const since = this.unreachableSince.get(info.id) ?? now;
      this.unreachableSince.set(info.id, since);
      if (nodeLost(now, since, lossMs)) {
        this.unreachableSince.delete(info.id);
        await this.teardown.endAttempt(
          ctx,
          attempt,
          "lost",
          `node ${i} (${info.id}) unreachable for ${Math.round((now - since) / 1000)}s`,
          { loss: { lost: [info.id], seen: nodes } },
        );
        return true;
      }
    }
    return false;
  }

  /** The `agent_exit` a node's agent wrote, if it has ended; each check reads only what is new. */
  private async nodeExit(ctx: JobContext, info: InstanceInfo): Promise<AgentExit | undefined> {
    const seen = this.nodeEvents.get(info.id) ?? { offset: 0 };
    this.nodeEvents.set(info.id, seen);
    if (seen.exit) return seen.exit;
    const bytes = await withinMs(
      this.d.transports.get(ctx.provider, info).then((t) => t.readFile(agentPaths().events, seen.offset)),
      3000,
      undefined,
    );
    if (!bytes || bytes.length === 0) return undefined;
    const { events, consumed, malformed } = parseEventLines(bytes);
    for (const m of malformed)
      this.d.logger.warn(
        { job: ctx.job.id, instance: info.id },
        `events.jsonl line at byte ${seen.offset + m.offset} skipped: ${m.problem}`,
      );
    seen.offset += consumed;
    const exit = events.findLast((e): e is AgentExit => e.kind === "agent_exit");
    if (exit) seen.exit = exit;
    return exit;
  }

  private async readBeat(ctx: JobContext, info: InstanceInfo): Promise<number> {
    const t = await this.d.transports.get(ctx.provider, info);
    return Number((await t.readFile(agentPaths().heartbeat).catch(() => undefined))?.toString() ?? Number.NaN);
  }

  /** Node 0's agent, silent for half the timeout: read its heartbeat file; silent for all of it: lost. */
  async checkHeartbeat(ctx: JobContext, attempt: AttemptRow, info: InstanceInfo): Promise<void> {
    const now = this.d.clock.now();
    const probe = { now, lastHeartbeat: attempt.last_heartbeat, timeoutMs: this.heartbeatTimeoutMs };
    if (judgeHeartbeat({ ...probe, beat: Number.NaN }) === "not_due") return;
    // The channel brings the agent's heartbeat; only without one is the file read.
    const beat = this.streamedBeat(info.id) ?? (await this.readBeat(ctx, info));
    const verdict = judgeHeartbeat({ ...probe, beat });
    if (verdict === "fresh") {
      await this.d.store.updateAttempt(ctx.job.id, attempt.idx, { last_heartbeat: now });
      attempt.last_heartbeat = now;
    } else if (verdict === "lost") await this.teardown.endAttempt(ctx, attempt, "lost", "the agent stopped reporting");
  }
}
