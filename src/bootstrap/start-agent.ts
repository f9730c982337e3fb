import { isAbsolute, posix } from "node:path";
import { instancePaths } from "../agent/instance-paths.js";
import { type AgentConfig, agentPaths } from "../agent/protocol.js";
import { shellQuote } from "../base/shell-quote.js";
import { replacesOnNotice, type Task } from "../spec/task-schema.js";
import type { Transport } from "../transport/transport.js";
import { BootstrapError } from "./bootstrap-error.js";

export interface BootstrapInput {
  jobId: string;
  attempt: number;
  restartCount: number;
  node: number;
  numNodes: number;
  coordinatorAddress?: string;
  task: Task;
  baseDir: string;
  storeUrl: string;
  /** A warm replacement (recovery.replace_on_notice): setup now, restore and run on the controller's go. */
  waitForGo?: boolean;
}

/** The agent's configuration for one node of one attempt, in the instance's own paths. */
export function agentConfig(input: BootstrapInput, home: string, noticeSource: AgentConfig["notice"]["source"]): AgentConfig {
  const { task } = input;
  const workdir = posix.join(home, "workdir");
  const ck = task.checkpoint;
  return {
    version: 1,
    job_id: input.jobId,
    attempt: input.attempt,
    restart_count: input.restartCount,
    node: input.node,
    num_nodes: input.numNodes,
    ...(input.coordinatorAddress ? { coordinator_address: input.coordinatorAddress, master_port: 29500 } : {}),
    workdir,
    ...(task.setup ? { setup: task.setup } : {}),
    run: task.run,
    envs: task.envs,
    checkpoint: {
      dir: isAbsolute(ck.dir) ? ck.dir : posix.join(workdir, ck.dir),
      store_url: input.storeUrl,
      ...(ck.hook ? { hook: ck.hook } : {}),
      hook_timeout_ms: ck.hook_timeout,
      stall_warning_ms: ck.stall_warning,
      ...(ck.resume_arg ? { resume_arg: ck.resume_arg } : {}),
      ...(ck.resume_from ? { resume_from: ck.resume_from } : {}),
      keep: ck.keep,
      upload: input.node === 0,
    },
    notice: { source: noticeSource, poll_ms: 250, ...(replacesOnNotice(task) ? { defer_stop: true } : {}) },
    ...(input.waitForGo ? { wait_for_go: true } : {}),
  };
}

/**
 * Start the agent detached so it outlives this connection, with the launcher's directory first on
 * PATH so the user's process (and a session's supervisor) finds this same `spotrun`. The agent
 * refuses to start twice, so a controller that died mid-way can repeat this.
 */
export async function startAgent(
  t: Transport,
  instanceId: string,
  cfg: AgentConfig,
  env: Record<string, string>,
): Promise<number> {
  const started = Date.now();
  const paths = agentPaths();
  const p = instancePaths(t.home);
  await t.writeFile(paths.config, JSON.stringify(cfg, null, 1));
  const vars = Object.entries(env)
    .map(([k, v]) => `${k}=${shellQuote(v)}`)
    .join(" ");
  // `a && b &` would background the whole list in a subshell that keeps our pipes open until the
  // agent exits; only the agent itself goes to the background here.
  const res = await t.exec(
    `cd ${shellQuote(t.home)} || exit 1\nenv ${vars} PATH=${shellQuote(p.binDir)}:"$PATH" setsid nohup ${shellQuote(p.launcher)} agent run --config ${paths.config} >>${paths.stderr} 2>&1 </dev/null &`,
    { timeoutMs: 30_000 },
  );
  if (res.exitCode !== 0)
    throw new BootstrapError(
      instanceId,
      "start",
      `starting the agent failed: ${res.stderr.trim().split("\n").pop() || `exit ${res.exitCode}`}`,
      `look at ~/${paths.stderr} on the instance`,
      false,
    );
  return Date.now() - started;
}
