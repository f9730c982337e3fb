import { isAbsolute, posix, resolve } from "node:path";
import { type AgentConfig, agentPaths } from "../agent/protocol.js";
import { shellQuote } from "../base/shell-quote.js";
import type { InstanceInfo, Provider } from "../providers/provider.js";
import type { Task } from "../spec/task-schema.js";
import type { Transport } from "../transport/transport.js";

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
      keep: ck.keep,
      upload: input.node === 0,
    },
    notice: { source: noticeSource, poll_ms: 250 },
  };
}

/**
 * Ship the workdir, write the agent's config, start the agent detached so it outlives this
 * connection. The agent refuses to start twice, so a controller that died mid-way can repeat this.
 */
export async function bootstrapAgent(
  provider: Provider,
  instance: InstanceInfo,
  t: Transport,
  input: BootstrapInput,
): Promise<void> {
  const cfg = agentConfig(input, t.home, provider.noticeSource);
  if (input.task.workdir) await t.upload(resolve(input.baseDir, input.task.workdir), "workdir", { exclude: [".spotrun"] });
  else await t.exec("mkdir -p workdir");
  const paths = agentPaths();
  await t.writeFile(paths.config, JSON.stringify(cfg, null, 1));
  const env = Object.entries(provider.agentEnv(instance))
    .map(([k, v]) => `${k}=${shellQuote(v)}`)
    .join(" ");
  const cmd = provider.agentCommand?.() ?? "spotrun";
  // `a && b &` would background the whole list in a subshell that keeps our pipes open until the
  // agent exits; only the agent itself goes to the background here.
  const res = await t.exec(
    `cd ${shellQuote(t.home)} || exit 1\n${env ? `env ${env} ` : ""}setsid nohup ${cmd} agent run --config ${paths.config} >>${paths.stderr} 2>&1 </dev/null &`,
    { timeoutMs: 30_000 },
  );
  if (res.exitCode !== 0)
    throw new Error(`starting the agent on ${t.label} failed: ${res.stderr.trim() || `exit ${res.exitCode}`}`);
}
