import { appendFileSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { agentPaths, type ControlRequest } from "../../agent/protocol.js";
import { Bootstrapper, type BootstrapReport } from "../../bootstrap/bootstrap-agent.js";
import { asBootstrapError, type BootstrapError } from "../../bootstrap/bootstrap-error.js";
import type { InstanceInfo } from "../../providers/provider.js";
import { replacesOnNotice } from "../../spec/task-schema.js";
import type { JobEvent } from "../../state/job-event.js";
import type { AttemptRow } from "../../state/state-store.js";
import { jobLogPath } from "../paths.js";
import { decideBootstrapFailure } from "./bootstrap-decisions.js";
import type { JobContext, ReconcilerDeps } from "./deps.js";
import { judgeNodes } from "./health-decisions.js";
import type { Teardown } from "./teardown.js";

/** The port node 0 listens on for the other nodes (JAX's coordinator, torchrun's rendezvous). */
export const COORDINATOR_PORT = 8476;

/** Instance up to agent running: ship Node and the agent, sync the workdir, start the agent, on every node. */
export class BootstrapReconciler {
  /** Tries per attempt that failed in a way another try may fix: when to try next, and the last cause. */
  private readonly retries = new Map<string, { n: number; at: number; error: BootstrapError }>();
  private readonly bootstrapper: Bootstrapper;

  constructor(
    private readonly d: ReconcilerDeps,
    private readonly teardown: Teardown,
  ) {
    this.bootstrapper = new Bootstrapper({ progress: (m) => d.logger.info({}, m) });
  }

  forgetAttempt(jobId: string, idx: number): void {
    this.retries.delete(`${jobId}:${idx}`);
  }

  /** The last retryable failure of this attempt's bootstrap, for the setup-timeout message. */
  lastError(jobId: string, idx: number): BootstrapError | undefined {
    return this.retries.get(`${jobId}:${idx}`)?.error;
  }

  async run(ctx: JobContext, attempt: AttemptRow, nodes: InstanceInfo[]): Promise<void> {
    const { job } = ctx;
    const key = `${job.id}:${attempt.idx}`;
    const retry = this.retries.get(key);
    if (retry && this.d.clock.now() < retry.at) return;
    const logPath = jobLogPath(this.d.home, job.id);
    mkdirSync(dirname(logPath), { recursive: true });
    if (!retry)
      appendFileSync(
        logPath,
        `[spotrun] attempt ${attempt.idx + 1} on ${nodes.map((n) => `${n.id} (${n.spot ? "spot" : "on-demand"} ${n.instanceType})`).join(", ")}\n`,
      );
    const results = await this.startAgents(ctx, attempt.idx, nodes);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) return this.failed(ctx, attempt, nodes, asBootstrapError(nodes[0]?.id ?? "?", "start", failed.reason));
    this.retries.delete(key);
    const reports = results.map((r) => (r as PromiseFulfilledResult<BootstrapReport>).value);
    await this.d.store.transaction(async (tx) => {
      for (const [node, r] of reports.entries()) await this.d.recorder.event(job.id, bootstrapEvent(attempt.idx, node, r), tx);
      await tx.updateAttempt(job.id, attempt.idx, { agent_started: true, last_heartbeat: this.d.clock.now() });
      await this.d.recorder.event(job.id, { kind: "agent_started", attempt: attempt.idx }, tx);
    });
    // A warm replacement whose controller died before its go is still waiting there (an agent
    // refuses to start twice): the go wakes it; a fresh agent ignores it.
    if (replacesOnNotice(ctx.task)) await sendGo(this.d, ctx, nodes).catch(() => {});
  }

  /**
   * Ship and start the agent on every node of attempt `idx` (a warm replacement's agents set up
   * and then wait for the go); each node's outcome.
   */
  async startAgents(
    ctx: JobContext,
    idx: number,
    nodes: InstanceInfo[],
    opts: { waitForGo?: boolean } = {},
  ): Promise<PromiseSettledResult<BootstrapReport>[]> {
    const { job, task, provider } = ctx;
    // Workers reach the coordinator on the private network where the provider knows it (TPU slices).
    const head = nodes[0];
    const headIp = head?.privateAddress ?? head?.address?.split(":")[0];
    const coordinator = nodes.length > 1 && headIp ? `${headIp}:${COORDINATOR_PORT}` : undefined;
    return Promise.allSettled(
      nodes.map(async (info, node) => {
        const t = await this.d.transports.get(provider, info).catch((e) => {
          throw asBootstrapError(info.id, "connect", e);
        });
        return this.bootstrapper.run(provider, info, t, {
          jobId: job.id,
          attempt: idx,
          restartCount: idx,
          node,
          numNodes: nodes.length,
          ...(coordinator ? { coordinatorAddress: coordinator } : {}),
          task,
          baseDir: job.base_dir,
          storeUrl: job.store_url,
          ...(opts.waitForGo ? { waitForGo: true } : {}),
        });
      }),
    );
  }

  private async failed(ctx: JobContext, attempt: AttemptRow, nodes: InstanceInfo[], e: BootstrapError): Promise<void> {
    const { job } = ctx;
    const key = `${job.id}:${attempt.idx}`;
    // A bootstrap cut short because its instance was reclaimed is the instance's end, not a setup
    // fault: look at the instances now, not at the last listing.
    const now = await this.d.observer.view(
      ctx.provider,
      nodes.map((n) => n.id),
      { hurry: true, fresh: true },
    );
    const verdict = judgeNodes(nodes.map((n) => now.get(n.id) ?? { kind: "missing", since: 0 }));
    const reclaimed = verdict.kind === "gone" || (verdict.kind === "present" && !verdict.running);
    const action = decideBootstrapFailure({ reclaimed, retryable: e.retryable, triesSoFar: this.retries.get(key)?.n ?? 0 });
    switch (action.kind) {
      case "await_reclaim":
        return;
      case "setup_failed":
        this.retries.delete(key);
        await this.teardown.endAttempt(ctx, attempt, "setup_failed", e.oneLine());
        return;
      case "retry":
        this.retries.set(key, { n: action.tries, at: this.d.clock.now() + action.delayMs, error: e });
        await this.d.recorder.event(job.id, {
          kind: "warning",
          message: `bootstrap try ${action.tries} failed, retrying: ${e.oneLine()}`,
        });
    }
  }
}

/** Tell every node's agent to go (a warm replacement restores and starts; others ignore it). */
export async function sendGo(d: ReconcilerDeps, ctx: JobContext, nodes: readonly InstanceInfo[]): Promise<void> {
  const go: ControlRequest = { action: "go" };
  await Promise.all(
    nodes.map(async (n) => (await d.transports.get(ctx.provider, n)).writeFile(agentPaths().control, JSON.stringify(go))),
  );
}

/** The job's record of how one node was bootstrapped: which Node, which agent hash, and the time each took. */
export function bootstrapEvent(attempt: number, node: number, r: BootstrapReport): JobEvent {
  return {
    kind: "bootstrapped",
    attempt,
    node,
    instance_id: r.instanceId,
    node_source: r.node.source,
    node_version: r.node.version,
    node_ms: r.node.ms,
    node_bytes: r.node.bytes,
    ...(r.node.detail ? { node_detail: r.node.detail } : {}),
    agent_sha256: r.agent.sha256,
    agent_bytes: r.agent.bytes,
    agent_uploaded: r.agent.uploaded,
    agent_ms: r.agent.ms,
    workdir_ms: r.workdirMs,
    start_ms: r.startMs,
    total_ms: r.totalMs,
  };
}
