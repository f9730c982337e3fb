import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cp, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { agentArtifact } from "../../src/bootstrap/agent-artifact.js";
import type { JobEvent } from "../../src/core/events.js";
import { ensureBareRootfs } from "../../src/providers/local/bare-root/bare-rootfs.js";
import { openSqlite } from "../../src/state/open-sqlite.js";
import { StateStore } from "../../src/state/state-store.js";
import { lastJson, repoRoot, sandbox, spotrun, stepsInLog, waitFor, writeTask } from "../support-cli/spotrun-cli.js";

/**
 * Managed jobs on bare hosts: each instance is a network namespace with its own minimal Debian
 * root (no Node, no spotrun), so everything from "instance running" to "agent running" happens
 * for real — Node obtained, the controller's agent uploaded and checked by hash, then run.
 */
interface JobJson {
  id: string;
  state: string;
  attempts: number;
  preemptions: number;
}
type Bootstrapped = Extract<JobEvent, { kind: "bootstrapped" }>;

let box: Awaited<ReturnType<typeof sandbox>>;
// The bare hosts boot from a cached Debian root that a cold machine builds first (minutes;
// scripts/test.sh starts it beside the other tests): wait for it here, not inside a timed step.
before(() => ensureBareRootfs(), { timeout: 900_000 });
before(async () => {
  box = await sandbox("bare");
});
after(async () => {
  await box.cleanup();
});

async function eventsOf(home: string, jobId: string): Promise<JobEvent[]> {
  const store = new StateStore(await openSqlite(home));
  try {
    return (await store.events(jobId)).map((e) => ({ kind: e.kind, ...JSON.parse(e.data) }) as JobEvent);
  } finally {
    await store.close();
  }
}

test("two interruptions on bare hosts: every step once, each new instance bootstrapped from nothing", async () => {
  const task = await writeTask(
    box.work,
    `name: bare-interrupted
resources: {provider: local, spot: true, market: {ssh: bare, interrupt_after: [20s, 20s], notice: 2s}}
workdir: .
run: python3 trainer.py
envs: {TOTAL_STEPS: 400, CHECKPOINT_EVERY: 10, STEP_SECONDS: 0.1}
checkpoint: {dir: checkpoints}
recovery: {max_restarts: 4}
`,
  );
  const r = await spotrun(box.home, ["run", task, "--json"], { timeoutMs: 240_000 });
  assert.equal(r.code, 0, r.stderr);
  const job = lastJson<JobJson>(r.stdout);
  assert.equal(job.state, "SUCCEEDED");
  assert.equal(job.preemptions, 2);
  assert.deepEqual(
    await stepsInLog(box.home, job.id),
    Array.from({ length: 400 }, (_, i) => i + 1),
    "every step once",
  );

  const art = await agentArtifact();
  const boots = (await eventsOf(box.home, job.id)).filter((e): e is Bootstrapped => e.kind === "bootstrapped");
  assert.equal(boots.length, 3, "one bootstrap per attempt");
  assert.equal(new Set(boots.map((b) => b.instance_id)).size, 3, "each on a new instance");
  for (const b of boots) {
    // Nothing was there: Node came from the controller, the agent was uploaded and named by its hash.
    assert.equal(b.node_source, "uploaded", JSON.stringify(b));
    assert.match(b.node_detail ?? "", /the image has no Node/);
    assert.equal(b.node_version, process.version);
    assert.ok(b.node_bytes > 1_000_000);
    assert.equal(b.agent_uploaded, true);
    assert.equal(b.agent_sha256, art.sha256);
    assert.equal(b.agent_bytes, art.bytes);
  }
  const left = execFileSync("ip", ["netns", "list"], { encoding: "utf8" });
  for (const b of boots) assert.ok(!left.includes(`spotrun-${b.instance_id.slice(2, 12)}`), `namespace of ${b.instance_id} left`);
});

test("a 2-node job on bare hosts gets the env contract on both nodes", async () => {
  const out = join(box.home, "checkpoints", "env-out");
  await writeTask(
    box.work,
    `import json, os, time
node = os.environ["SPOT_WORKER_ID"]
keys = ["SPOT_WORKER_ID", "SPOT_NUM_WORKERS", "JAX_COORDINATOR_ADDRESS", "MASTER_ADDR", "MASTER_PORT", "SPOT_JOB_ID", "SPOT_CHECKPOINT_DIR"]
os.makedirs("${out}", exist_ok=True)
json.dump({k: os.environ.get(k) for k in keys} | {"node_on_path": os.popen("command -v node || true").read().strip()}, open(f"${out}/node-{node}.json.tmp", "w"))
os.replace(f"${out}/node-{node}.json.tmp", f"${out}/node-{node}.json")
# The job ends when node 0 exits: it waits until both nodes have written.
for _ in range(600):
    if all(os.path.exists(f"${out}/node-{n}.json") for n in ("0", "1")): break
    time.sleep(0.1)
`,
    "env.py",
  );
  const task = await writeTask(
    box.work,
    `name: bare-two
resources: {provider: local, market: {ssh: bare}}
num_nodes: 2
workdir: .
run: python3 env.py
`,
    "two.yaml",
  );
  const r = await spotrun(box.home, ["run", task, "--json"], { timeoutMs: 180_000 });
  assert.equal(r.code, 0, r.stderr);
  const job = lastJson<JobJson>(r.stdout);
  assert.equal(job.state, "SUCCEEDED");
  const files = (await readdir(out)).sort();
  assert.deepEqual(files, ["node-0.json", "node-1.json"]);
  const envs = await Promise.all(
    files.map(async (f) => JSON.parse(await readFile(join(out, f), "utf8")) as Record<string, string>),
  );
  const boots = (await eventsOf(box.home, job.id)).filter((e): e is Bootstrapped => e.kind === "bootstrapped");
  assert.equal(boots.length, 2);
  for (const [i, env] of envs.entries()) {
    assert.equal(env.SPOT_WORKER_ID, String(i));
    assert.equal(env.SPOT_NUM_WORKERS, "2");
    assert.equal(env.SPOT_JOB_ID, job.id);
    assert.match(env.JAX_COORDINATOR_ADDRESS ?? "", /^10\.213\.\d+\.2:8476$/);
    assert.equal(env.MASTER_ADDR, env.JAX_COORDINATOR_ADDRESS?.split(":")[0]);
    assert.equal(env.MASTER_PORT, "29500");
    // The image has no Node of its own; the one the agent runs on is not on the user's PATH either.
    assert.equal(env.node_on_path, "");
  }
  assert.equal(envs[0]?.JAX_COORDINATOR_ADDRESS, envs[1]?.JAX_COORDINATOR_ADDRESS);
});

test("a session with one agent on bare hosts survives an interruption: the agent resumes on the new instance", async () => {
  await cp(join(repoRoot, "examples", "sessions", "agent.sh"), join(box.work, "agent.sh"));
  await writeTask(
    box.work,
    `resources:
  provider: local
  spot: true
  market: {ssh: bare, interrupt_after: [25s], notice: 3s}
workdir: .
persist: [~/.agent-state]
agents:
  - {name: coder, command: ./agent.sh, resume_command: ./agent.sh --resume}
envs: {AGENT_STEP_SECONDS: 0.2}
snapshot_interval: 1s
save_budget: 20s
volume: {size: 1GB}
`,
    "session.yaml",
  );
  interface SessionJson {
    name: string;
    state: string;
    instance_id: string | null;
    interruptions: number;
  }
  const session = async () =>
    (JSON.parse((await spotrun(box.home, ["session", "list", "--json"])).stdout) as { sessions: SessionJson[] }).sessions.find(
      (x) => x.name === "bare",
    );
  try {
    const start = await spotrun(box.home, ["session", "start", "bare", "--task", join(box.work, "session.yaml"), "--json"]);
    assert.equal(start.code, 0, start.stderr);
    const first = await waitFor(
      async () => ((await session())?.state === "running" ? await session() : undefined),
      90_000,
      "running",
    );
    const again = await waitFor(
      async () => {
        const x = await session();
        return x?.state === "running" && x.instance_id !== first.instance_id && x.interruptions === 1 ? x : undefined;
      },
      120_000,
      "the session running on a new instance after the reclaim",
    );
    assert.ok(again.instance_id);
    const screen = await waitFor(
      async () => {
        const r = await spotrun(box.home, ["session", "logs", "bare", "--agent", "coder", "--json"]);
        const text = r.code === 0 ? (JSON.parse(r.stdout) as { screen: string }).screen : "";
        return /\(resumed\)/.test(text) && /working \d+/.test(text) ? text : undefined;
      },
      30_000,
      "the coder's resumed conversation on the new instance",
    );
    assert.match(screen, /conversation conv-coder-\d+ \(resumed\)/);
  } finally {
    await spotrun(box.home, ["session", "stop", "bare"], { timeoutMs: 60_000 });
    await spotrun(box.home, ["session", "destroy", "bare", "--yes"], { timeoutMs: 30_000 });
  }
});
