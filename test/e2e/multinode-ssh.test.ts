import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { lastJson, sandbox, spotrun, waitFor, writeTask } from "../support-cli/spotrun-cli.js";

/**
 * Three real OpenSSH hosts, each in a network namespace the local provider makes for it: a 3-node
 * job gets the env contract on every node, the workdir arrives intact, and cutting one node's link
 * mid-run ends the attempt on all nodes; the job finishes on a new placement from its checkpoint.
 */
interface JobJson {
  id: string;
  state: string;
  attempts: number;
  preemptions: number;
}

let box: Awaited<ReturnType<typeof sandbox>>;
let instanceIds: string[] = [];
before(async () => {
  box = await sandbox("multinode");
});
after(async () => {
  const all = JSON.parse((await spotrun(box.home, ["list", "--all", "--json"])).stdout) as { instances: { id: string }[] };
  instanceIds = all.instances.map((i) => i.id);
  await box.cleanup();
  const left = execFileSync("ip", ["netns", "list"], { encoding: "utf8" });
  for (const id of instanceIds) assert.ok(!left.includes(`spotrun-${id.slice(2, 12)}`), `namespace of ${id} left behind`);
});

const sha = async (p: string) =>
  createHash("sha256")
    .update(await readFile(p))
    .digest("hex");

test("3 nodes over SSH in network namespaces: env on every node, workdir intact, a cut link recovers as one", async () => {
  const out = join(box.work, "..", "out");
  await mkdir(out, { recursive: true });
  await mkdir(join(box.work, "data"), { recursive: true });
  await writeFile(join(box.work, "data", "blob.bin"), Buffer.alloc(300_000, 3));
  await writeFile(join(box.work, "data", "ignored.log"), "not shipped");
  await writeFile(join(box.work, ".gitignore"), "*.log\n");
  await writeTask(
    box.work,
    `import hashlib, json, os, pathlib, signal, sys, time
node = os.environ["SPOT_WORKER_ID"]
out = os.environ["OUT"]
keys = ["SPOT_WORKER_ID", "SPOT_NUM_WORKERS", "JAX_COORDINATOR_ADDRESS", "MASTER_ADDR", "MASTER_PORT", "SPOT_IS_RESTART", "SPOT_RESTART_COUNT", "SPOT_JOB_ID"]
env = {k: os.environ.get(k) for k in keys}
sums = {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in pathlib.Path(".").rglob("*") if p.is_file() and "checkpoints" not in p.parts}
attempt = os.environ["SPOT_ATTEMPT"]
json.dump({"env": env, "sums": sums, "cwd_ip": os.popen("ip -4 -o addr show scope global").read()}, open(f"{out}/node-{node}-attempt-{attempt}.json", "w"))
ck = os.environ["SPOT_CHECKPOINT_DIR"]
os.makedirs(ck, exist_ok=True)
state = os.path.join(ck, "step")
step = int(open(state).read()) if os.path.exists(state) else 0
while step < 250:
    time.sleep(0.1)
    step += 1
    if node == "0":
        open(state + ".tmp", "w").write(str(step)); os.replace(state + ".tmp", state)
print(f"node {node} done at step {step}", flush=True)
`,
    "train.py",
  );
  const task = await writeTask(
    box.work,
    `name: three
resources: {provider: local, spot: true, market: {ssh: netns, notice: 2s}}
num_nodes: 3
workdir: .
run: python3 train.py
envs: {OUT: ${out}}
recovery: {max_restarts: 3}
`,
  );
  const job = lastJson<JobJson>((await spotrun(box.home, ["run", task, "--detach", "--json"])).stdout);
  const attempt0 = async (n: number) => {
    try {
      return JSON.parse(await readFile(join(out, `node-${n}-attempt-0.json`), "utf8")) as {
        env: Record<string, string>;
        sums: Record<string, string>;
      };
    } catch {
      return undefined;
    }
  };
  const nodes = await waitFor(
    async () => {
      const all = await Promise.all([0, 1, 2].map(attempt0));
      return all.every(Boolean) ? (all as NonNullable<Awaited<ReturnType<typeof attempt0>>>[]) : undefined;
    },
    90_000,
    "all three nodes to start",
  );
  const coordinator = nodes[0]?.env.JAX_COORDINATOR_ADDRESS as string;
  assert.match(coordinator, /^10\.213\.\d+\.2:8476$/);
  const expectedSums = {
    "train.py": await sha(join(box.work, "train.py")),
    "data/blob.bin": await sha(join(box.work, "data", "blob.bin")),
  };
  for (const [i, n] of nodes.entries()) {
    assert.deepEqual(
      { ...n.env, SPOT_JOB_ID: undefined },
      {
        SPOT_WORKER_ID: String(i),
        SPOT_NUM_WORKERS: "3",
        JAX_COORDINATOR_ADDRESS: coordinator,
        MASTER_ADDR: coordinator.split(":")[0],
        MASTER_PORT: "29500",
        SPOT_IS_RESTART: "false",
        SPOT_RESTART_COUNT: "0",
        SPOT_JOB_ID: undefined,
      },
    );
    assert.equal(n.sums["train.py"], expectedSums["train.py"]);
    assert.equal(n.sums["data/blob.bin"], expectedSums["data/blob.bin"]);
    assert.equal(n.sums["data/ignored.log"], undefined, ".gitignore honoured");
  }

  // Cut node 1's link: its namespace is spotrun-<id>; its veth goes down inside.
  const list = JSON.parse((await spotrun(box.home, ["list", "--json"])).stdout) as {
    instances: { id: string; node: number; attempt: number }[];
  };
  const node1 = list.instances.find((i) => i.node === 1 && i.attempt === 0)?.id as string;
  const ns = `spotrun-${node1.slice(2, 12)}`;
  const veth = execFileSync("ip", ["-n", ns, "-o", "link", "show"], { encoding: "utf8" })
    .split("\n")
    .map((l) => /^\d+: ([^:@]+)/.exec(l)?.[1])
    .find((n) => n && n !== "lo") as string;
  execFileSync("ip", ["-n", ns, "link", "set", veth, "down"]);

  const done = await waitFor(
    async () => {
      const s = JSON.parse((await spotrun(box.home, ["status", job.id, "--json"])).stdout) as JobJson;
      return ["SUCCEEDED", "FAILED"].includes(s.state) ? s : undefined;
    },
    120_000,
    "the job to finish",
  );
  assert.equal(done.state, "SUCCEEDED");
  assert.equal(done.attempts, 2);
  const restarted = await Promise.all(
    [0, 1, 2].map(
      async (n) => JSON.parse(await readFile(join(out, `node-${n}-attempt-1.json`), "utf8")) as { env: Record<string, string> },
    ),
  );
  assert.ok(
    restarted.every((r) => r.env.SPOT_IS_RESTART === "true"),
    "SPOT_IS_RESTART=true on every node",
  );
  assert.notEqual(restarted[0]?.env.JAX_COORDINATOR_ADDRESS, undefined);
  const log = (await spotrun(box.home, ["logs", job.id])).stdout;
  assert.match(log, /restored checkpoint generation g-000000-/);
  const ev = JSON.parse((await spotrun(box.home, ["status", job.id, "--json"])).stdout) as { message: string };
  assert.equal(ev.message, "run exited 0");
  assert.ok((await readdir(out)).length >= 6);
});
