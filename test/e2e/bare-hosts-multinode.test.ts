import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { JobId } from "../../src/base/ids.js";
import { ensureBareRootfs } from "../../src/providers/local/bare-root/bare-rootfs.js";
import type { JobEvent } from "../../src/state/job-event.js";
import { openSqlite } from "../../src/state/open-sqlite.js";
import { StateStore } from "../../src/state/state-store.js";
import { lastJson, sandbox, spotrun, writeTask } from "../support-cli/spotrun-cli.js";

/**
 * Managed jobs on bare hosts: each instance is a network namespace with its own minimal Debian
 * root (no Node, no spotrun), so everything from "instance running" to "agent running" happens
 * for real — Node obtained, the controller's agent uploaded and checked by hash, then run.
 */
interface JobJson {
  id: JobId;
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
  box = await sandbox("bare-two");
});
after(async () => {
  await box.cleanup();
});

async function eventsOf(home: string, jobId: JobId): Promise<JobEvent[]> {
  const store = new StateStore(await openSqlite(home));
  try {
    return (await store.events(jobId)).map((e) => ({ kind: e.kind, ...JSON.parse(e.data) }) as JobEvent);
  } finally {
    await store.close();
  }
}

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
