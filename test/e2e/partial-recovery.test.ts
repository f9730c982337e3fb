import assert from "node:assert/strict";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { jobEvents, lastJson, sandbox, spotrun, waitFor, writeTask } from "../support-cli/spotrun-cli.js";

/**
 * recovery.partial: a 3-node job that loses one node keeps the other two, launches exactly one
 * instance for the lost node, and restarts the run on all three from the newest checkpoint, each
 * node keeping its SPOT_WORKER_ID; when node 0 is the one lost, the coordinator address moves to
 * its replacement.
 */
interface JobJson {
  id: string;
  state: string;
  attempts: number;
  preemptions: number;
  message: string;
}
interface NodeRecord {
  env: Record<string, string | null>;
  cwd: string;
  start: number;
}

let box: Awaited<ReturnType<typeof sandbox>>;
before(async () => {
  box = await sandbox("partial");
});
after(async () => box.cleanup());

// Every node records who it is and where it starts; node 0 keeps the checkpoint (a step counter).
const TRAINER = `import json, os, time
node = os.environ["SPOT_WORKER_ID"]
attempt = os.environ["SPOT_ATTEMPT"]
keys = ["SPOT_WORKER_ID", "SPOT_NUM_WORKERS", "JAX_COORDINATOR_ADDRESS", "SPOT_IS_RESTART", "SPOT_RESTART_COUNT"]
ck = os.environ["SPOT_CHECKPOINT_DIR"]
os.makedirs(ck, exist_ok=True)
state = os.path.join(ck, "step")
step = int(open(state).read()) if os.path.exists(state) else 0
rec = {"env": {k: os.environ.get(k) for k in keys}, "cwd": os.getcwd(), "start": step}
json.dump(rec, open(os.path.join(os.environ["OUT"], f"node-{node}-attempt-{attempt}.json"), "w"))
while step < 150:
    time.sleep(0.1)
    step += 1
    if node == "0":
        open(state + ".tmp", "w").write(str(step)); os.replace(state + ".tmp", state)
print(f"node {node} done at step {step}", flush=True)
`;

async function runPartial(name: string, market: string, lose: number) {
  const out = join(box.work, "..", `out-${name}`);
  await mkdir(out, { recursive: true });
  await writeTask(box.work, TRAINER, "train.py");
  const task = await writeTask(
    box.work,
    `name: ${name}
resources: {provider: local, spot: true, market: ${market}}
num_nodes: 3
workdir: .
run: python3 train.py
envs: {OUT: ${out}}
checkpoint: {dir: checkpoints}
recovery: {max_restarts: 3, partial: true}
`,
    `${name}.yaml`,
  );
  const job = lastJson<JobJson>((await spotrun(box.home, ["run", task, "--detach", "--json"])).stdout);
  const record = async (node: number, attempt: number) => {
    try {
      return JSON.parse(await readFile(join(out, `node-${node}-attempt-${attempt}.json`), "utf8")) as NodeRecord;
    } catch {
      return undefined;
    }
  };
  const first = await waitFor(
    async () => {
      const all = await Promise.all([0, 1, 2].map((n) => record(n, 0)));
      return all.every(Boolean) ? (all as NodeRecord[]) : undefined;
    },
    120_000,
    "all three nodes to start",
  );
  // Let node 0 checkpoint a few steps, then reclaim the chosen node with a short notice.
  await new Promise((r) => setTimeout(r, 1500));
  const list = JSON.parse((await spotrun(box.home, ["list", "--json"])).stdout) as {
    instances: { id: string; node: number; attempt: number; job: string }[];
  };
  const attempt0 = list.instances.filter((i) => i.attempt === 0);
  assert.equal(attempt0.length, 3);
  const victim = attempt0.find((i) => i.node === lose)?.id as string;
  const chaos = await spotrun(box.home, ["chaos", "interrupt", victim, "--notice", "1s", "--json"]);
  assert.equal(chaos.code, 0, chaos.stderr);

  const done = await waitFor(
    async () => {
      const s = JSON.parse((await spotrun(box.home, ["status", job.id, "--json"])).stdout) as JobJson;
      return ["SUCCEEDED", "FAILED"].includes(s.state) ? s : undefined;
    },
    180_000,
    "the job to finish",
  );
  assert.equal(done.state, "SUCCEEDED", done.message);
  assert.equal(done.attempts, 2);
  assert.equal(done.preemptions, 1);
  const second = await Promise.all([0, 1, 2].map(async (n) => (await record(n, 1)) as NodeRecord));
  const all = JSON.parse((await spotrun(box.home, ["list", "--all", "--json"])).stdout) as {
    instances: { id: string; node: number; attempt: number; ended_at: string | null }[];
  };
  const events = await jobEvents(box.home, job.id);
  return { job, first, second, all, events, victim, attempt0 };
}

test("a 3-node job losing node 1 keeps nodes 0 and 2 and launches exactly one instance", async () => {
  const r = await runPartial("keep2", "{notice: 2s}", 1);
  const launched = r.events.filter((e) => e.kind === "instance_launched");
  assert.equal(launched.length, 4, "3 for the first attempt, 1 for the lost node");
  const kept = r.events.filter((e) => e.kind === "instance_kept");
  assert.deepEqual(
    kept.map((e) => [e.node, e.attempt]),
    [
      [0, 1],
      [2, 1],
    ],
  );
  const keptIds = r.attempt0.filter((i) => i.node !== 1).map((i) => i.id);
  assert.deepEqual(kept.map((e) => e.instance_id).sort(), [...keptIds].sort());
  // The kept nodes ran attempt 2 in the same place; the lost node's work moved to a new instance.
  assert.equal(r.second[0]?.cwd, r.first[0]?.cwd);
  assert.equal(r.second[2]?.cwd, r.first[2]?.cwd);
  assert.notEqual(r.second[1]?.cwd, r.first[1]?.cwd);
  for (const [n, rec] of r.second.entries()) {
    assert.equal(rec.env.SPOT_WORKER_ID, String(n), `node ${n} keeps its worker id`);
    assert.equal(rec.env.SPOT_NUM_WORKERS, "3");
    assert.equal(rec.env.SPOT_IS_RESTART, "true");
    assert.equal(rec.env.JAX_COORDINATOR_ADDRESS, r.second[0]?.env.JAX_COORDINATOR_ADDRESS);
  }
  // Node 0 went on from its newest checkpoint, not from the start.
  assert.ok((r.second[0]?.start ?? 0) > 0, `node 0 restarted from step ${r.second[0]?.start}`);
  const ended = r.events.filter((e) => e.kind === "instance_ended").map((e) => e.instance_id);
  assert.ok(ended.includes(r.victim), "the lost node was ended");
  assert.equal(r.all.instances.length, 4);
  assert.ok(
    r.all.instances.every((i) => i.ended_at !== null),
    "nothing left running",
  );
  const log = (await spotrun(box.home, ["logs", r.job.id])).stdout;
  assert.match(log, /restored checkpoint generation g-/);
});

test("losing node 0 (over SSH, each node its own address) moves the coordinator to its replacement", async () => {
  const r = await runPartial("head", "{ssh: netns, notice: 2s}", 0);
  assert.equal(r.events.filter((e) => e.kind === "instance_launched").length, 4);
  assert.deepEqual(
    r.events.filter((e) => e.kind === "instance_kept").map((e) => e.node),
    [1, 2],
  );
  const before = r.first[0]?.env.JAX_COORDINATOR_ADDRESS as string;
  const after = r.second[0]?.env.JAX_COORDINATOR_ADDRESS as string;
  assert.match(after, /^10\.213\.\d+\.2:8476$/);
  assert.notEqual(after, before, "the coordinator is the new node 0");
  for (const [n, rec] of r.second.entries()) {
    assert.equal(rec.env.SPOT_WORKER_ID, String(n));
    assert.equal(rec.env.JAX_COORDINATOR_ADDRESS, after, `node ${n} is told the new coordinator`);
  }
  assert.equal(r.second[1]?.cwd, r.first[1]?.cwd);
  assert.equal(r.second[2]?.cwd, r.first[2]?.cwd);
  assert.ok(r.all.instances.every((i) => i.ended_at !== null));
});
