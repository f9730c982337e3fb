/**
 * Notice → checkpoint-hook start, through the real agent: an IMDSv2 endpoint issues a spot notice
 * at t0; the agent (250 ms poll) runs a hook whose first act is to write the time. Peer, in the
 * same run: the plain poll loop the seeds' scripts use (`curl` every 5 s, AWS's suggested interval).
 * Target: p99 ≤ 0.5 s.  Run: node dist/bench/notice-to-hook.js [trials]
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Agent } from "../src/agent/agent.js";
import type { AgentConfig } from "../src/agent/protocol.js";
import { ImdsWatcher } from "../src/agent/watchers/imds-watcher.js";
import { ImdsServer } from "../src/providers/local/imds-server.js";

const trials = Number(process.argv[2] ?? 20);
const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)] as number;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitForFile(path: string, timeoutMs: number): Promise<string> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      const s = await readFile(path, "utf8");
      if (s.trim()) return s;
    } catch {}
    if (Date.now() > until) throw new Error(`no ${path}`);
    await sleep(2);
  }
}

async function agentTrial(root: string, i: number): Promise<number> {
  const home = join(root, `agent-${i}`);
  const imds = new ImdsServer({
    identity: { instanceId: `i-${i}`, instanceType: "local.small", availabilityZone: "local-1a", lifecycle: "spot" },
  });
  const port = await imds.listen();
  const work = join(home, "workdir");
  const mark = join(home, "hook-started");
  await import("node:fs/promises").then((fs) => fs.mkdir(work, { recursive: true }));
  const cfg: AgentConfig = {
    version: 1,
    job_id: "bench",
    attempt: 0,
    restart_count: 0,
    node: 0,
    num_nodes: 1,
    workdir: work,
    run: "sleep 600",
    envs: {},
    checkpoint: {
      dir: join(work, "ckpt"),
      store_url: pathToFileURL(join(home, "store")).href,
      hook: `node -e 'require("fs").writeFileSync(${JSON.stringify(mark)}, String(Date.now()))'`,
      hook_timeout_ms: 10_000,
      stall_warning_ms: 3_600_000,
      keep: 1,
      upload: true,
    },
    notice: { source: "aws-imds", poll_ms: 250 },
  };
  const agent = new Agent(cfg, home, async () => new ImdsWatcher({ endpoint: `http://127.0.0.1:${port}`, pollMs: 250 }));
  const done = agent.run();
  // Let the run start, then issue the notice at a random phase of the poll.
  await sleep(400 + Math.random() * 250);
  const t0 = Date.now();
  imds.setNotice("terminate", t0 + 120_000);
  const started = Number(await waitForFile(mark, 5000));
  await done;
  await imds.close();
  return started - t0;
}

async function curlLoopTrial(root: string, i: number, intervalS: number): Promise<number> {
  const imds = new ImdsServer({
    identity: { instanceId: `i-c${i}`, instanceType: "t", availabilityZone: "z-1a", lifecycle: "spot" },
  });
  const port = await imds.listen();
  const mark = join(root, `curl-${i}`);
  const script = `
TOKEN=$(curl -s -X PUT http://127.0.0.1:${port}/latest/api/token -H "X-aws-ec2-metadata-token-ttl-seconds: 21600")
while true; do
  if curl -sf -H "X-aws-ec2-metadata-token: $TOKEN" http://127.0.0.1:${port}/latest/meta-data/spot/instance-action >/dev/null; then
    node -e 'require("fs").writeFileSync(${JSON.stringify(mark)}, String(Date.now()))'; exit 0
  fi
  sleep ${intervalS}
done`;
  const child = spawn("bash", ["-c", script], { stdio: "ignore" });
  await sleep(300 + Math.random() * intervalS * 1000);
  const t0 = Date.now();
  imds.setNotice("terminate", t0 + 120_000);
  const started = Number(await waitForFile(mark, (intervalS + 5) * 1000));
  child.kill();
  await imds.close();
  return started - t0;
}

const root = await mkdtemp(join(tmpdir(), "spotrun-bench-notice-"));
try {
  const ours: number[] = [];
  for (let i = 0; i < trials; i++) ours.push(await agentTrial(root, i));
  const peerTrials = Math.max(3, Math.round(trials / 4));
  const peer: number[] = [];
  for (let i = 0; i < peerTrials; i++) peer.push(await curlLoopTrial(root, i, 5));
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  console.log(`notice → hook start, spotrun agent (IMDSv2, 250 ms poll), ${trials} trials:`);
  console.log(
    `  p50 ${pct(ours, 50)} ms   p99 ${pct(ours, 99)} ms   max ${Math.max(...ours)} ms   mean ${mean(ours).toFixed(0)} ms   target p99 ≤ 500 ms: ${pct(ours, 99) <= 500 ? "met" : "MISSED"}`,
  );
  console.log(`peer: curl poll loop every 5 s (AWS's suggested interval), ${peerTrials} trials:`);
  console.log(`  p50 ${pct(peer, 50)} ms   max ${Math.max(...peer)} ms   mean ${mean(peer).toFixed(0)} ms`);
  console.log(`ratio (peer mean / spotrun mean): ${(mean(peer) / mean(ours)).toFixed(1)}× faster`);
  await writeFile(join(root, "done"), "");
} finally {
  await rm(root, { recursive: true, force: true });
}
