import assert from "node:assert/strict";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { systemClock } from "../../../src/base/clock.js";
import { createLogger, silentLogger } from "../../../src/base/logger.js";
import { submitJob } from "../../../src/core/submit.js";
import { createLoopbackSshHost } from "../../../src/providers/local/ssh-hosts/create-loopback-ssh-host.js";
import type { LoopbackSshHost } from "../../../src/providers/local/ssh-hosts/ssh-host.js";
import type { InstanceInfo } from "../../../src/providers/provider.js";
import { VastClient } from "../../../src/providers/vast/client.js";
import { VastProvider } from "../../../src/providers/vast/vast-provider.js";
import type { CreateInstanceBody } from "../../../src/providers/vast/wire.js";
import { loadTaskFile } from "../../../src/spec/load-task.js";
import { openSqlite } from "../../../src/state/open-sqlite.js";
import { StateStore } from "../../../src/state/state-store.js";
import type { Transport } from "../../../src/transport/transport.js";
import { VastServer } from "../../servers/vast/vast-server.js";
import { fastController, loopbackTransport, trainerJob } from "../../support-cloud/managed-job-kit.js";
import { API_KEY, OFFERS } from "./fixtures.js";

/**
 * A managed job on Vast, end to end except for Vast itself: the real controller, the real
 * VastProvider and client against the in-repo Vast server, and each rented "machine" a real sshd
 * on 127.0.0.1 with a home of its own. Being outbid stops the container (its processes die),
 * exactly what Vast does; the job must notice from the API alone, destroy the instance, rent
 * another offer and resume from its newest checkpoint.
 */

let root: string;
let hosts: LoopbackSshHost[] = [];
const hostOf = new Map<number, LoopbackSshHost>();
let server: VastServer;

/**
 * Kill, by pid, every process whose working directory is inside a host's home: what stopping its
 * container does. Only the working directory counts: an SSH session's shell that is still in its
 * login scripts (cwd /root) is never touched, because killing one mid-way can leave a stale lock
 * behind (pyenv's rehash lock) that stalls every later SSH login on this machine.
 */
function stopContainer(host: LoopbackSshHost): number {
  let killed = 0;
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const cwd = readlinkSync(`/proc/${name}/cwd`);
      if (cwd === host.home || cwd.startsWith(`${host.home}/`)) {
        process.kill(Number(name), "SIGKILL");
        killed++;
      }
    } catch {}
  }
  return killed;
}

/** The VastProvider with one difference: its "containers" share this machine, so each gets the home its sshd serves and this machine's spotrun. */
class LoopbackVastProvider extends VastProvider {
  override async transport(info: InstanceInfo): Promise<Transport> {
    const host = hostOf.get(Number(info.id));
    assert.ok(host, `no host for ${info.id}`);
    assert.equal(info.address, `${host.address}:${host.port}`, "the address came from the API's ssh fields");
    return loopbackTransport(host, join(root, "known_hosts"));
  }
}

const log = () => (process.env.VAST_E2E_DEBUG ? createLogger({ level: "debug" }) : silentLogger);

before(async () => {
  root = await mkdtemp(join(tmpdir(), "spotrun-vast-e2e-"));
  for (const k of [0, 1, 2, 3, 4, 5])
    hosts.push(await createLoopbackSshHost({ id: `vast-e2e-${process.pid}-${k}`, home: join(root, `machine-${k}`) }));
  let next = 0;
  server = new VastServer({
    apiKey: API_KEY,
    offers: OFFERS,
    loadingPolls: 2,
    ssh: (id) => {
      const host = hosts[next++];
      assert.ok(host, "out of machines");
      hostOf.set(id, host);
      return { host: host.address, port: host.port };
    },
    onDestroy: (id) => {
      const host = hostOf.get(id);
      if (host) stopContainer(host);
    },
  });
  await server.start();
});

after(async () => {
  await server?.stop();
  for (const h of hosts) {
    stopContainer(h);
    await h.stop();
  }
  hosts = [];
  if (process.env.VAST_E2E_KEEP) process.stderr.write(`kept ${root}\n`);
  else await rm(root, { recursive: true, force: true });
});

interface JobRun {
  state: string | undefined;
  message: string | undefined;
  preemptions: number | undefined;
  /** Instances rented for this job, in order. */
  instances: number[];
  /** Paths of the creates this job made. */
  creates: { path: string; body: CreateInstanceBody }[];
}

/** Submit a task and run the real controller until the job ends (or 75 s pass, with what the server saw). */
async function runJob(
  name: string,
  resourcesAndMore: string,
  opts: { startTimeoutMs?: number; whileRunning?: () => void } = {},
): Promise<JobRun> {
  const { home, taskPath } = await trainerJob(
    root,
    name,
    `checkpoint: {dir: checkpoints, store: "file://${join(root, `store-${name}`)}"}\n${resourcesAndMore}`,
    { home: `home-${name}`, work: `work-${name}` },
  );
  const before = new Set(hostOf.keys());
  const createsBefore = server.requestsTo("PUT", "/asks/").length;
  const store = new StateStore(await openSqlite(home));
  const provider = new LoopbackVastProvider({
    home,
    logger: log(),
    client: new VastClient({ apiKey: API_KEY, baseUrl: server.url }),
    ...(opts.startTimeoutMs ? { startTimeoutMs: opts.startTimeoutMs } : {}),
  });
  const controller = fastController(store, provider, home, log());
  try {
    const [jobId] = await submitJob(store, await loadTaskFile(taskPath), home, systemClock);
    assert.ok(jobId);
    const deadline = Date.now() + 75_000;
    await controller.run({
      until: async () => {
        const job = await store.job(jobId);
        if (!job || ["SUCCEEDED", "FAILED", "CANCELLED", "OVER_BUDGET"].includes(job.state)) return true;
        if (Date.now() > deadline) {
          const seen = server.requests.slice(-6).map((r) => `${r.method} ${r.path} ${r.status}`);
          throw new Error(`job still ${job.state} after 75 s: ${job.message}; server saw ${seen.join(", ")}`);
        }
        opts.whileRunning?.();
        return false;
      },
    });
    const job = await store.job(jobId);
    return {
      state: job?.state,
      message: job?.message ?? undefined,
      preemptions: job?.preemptions,
      instances: [...hostOf.keys()].filter((id) => !before.has(id)),
      creates: server
        .requestsTo("PUT", "/asks/")
        .slice(createsBefore)
        .map((r) => ({ path: r.path, body: r.body as CreateInstanceBody })),
    };
  } finally {
    await store.close();
  }
}

const destroyedIds = () => new Set(server.requestsTo("DELETE", "/instances/").map((r) => Number(r.path.split("/")[4])));
const checkpointStep = (id: number): number => {
  const host = hostOf.get(id);
  assert.ok(host);
  return (JSON.parse(readFileSync(join(host.home, "workdir", "checkpoints", "state.json"), "utf8")) as { step: number }).step;
};

test("outbid mid-run: detected from the API, instance destroyed, resumed from its checkpoint on a new offer, everything torn down", async () => {
  let outbidId: number | undefined;
  const run = await runJob(
    "outbid",
    `resources: {provider: vast, accelerators: "RTX_4090:1", min_reliability: 0.9, spot: true, max_price: 0.5, disk: 20}
envs: {TOTAL_STEPS: 80, CHECKPOINT_EVERY: 10, STEP_SECONDS: 0.05}
recovery: {max_restarts: 3}
`,
    {
      // Once the first machine has checkpointed past step 20, someone outbids it.
      whileRunning: () => {
        if (outbidId !== undefined) return;
        const [first] = server.instances.values();
        if (first?.inst.actual_status !== "running") return;
        try {
          if (checkpointStep(first.inst.id) < 20) return;
        } catch {
          return;
        }
        outbidId = first.inst.id;
        server.outbid(outbidId, 0.45);
        const host = hostOf.get(outbidId);
        assert.ok(host && stopContainer(host) > 0, "the outbid container had processes to stop");
      },
    },
  );
  assert.equal(run.state, "SUCCEEDED", run.message ?? "");
  assert.equal(run.preemptions, 1);
  assert.ok(outbidId);
  // What Vast was asked: two bids, the first instance destroyed after the outbid, the second at the end.
  assert.equal(run.creates.length, 2);
  assert.ok(
    run.creates.every((c) => c.body.price !== null && c.body.price <= 0.5),
    "interruptible, within max_price",
  );
  assert.notEqual(run.creates[0]?.body.label, run.creates[1]?.body.label, "each attempt has its own idempotency token");
  const destroyed = destroyedIds();
  assert.ok(run.instances.length === 2 && run.instances.every((id) => destroyed.has(id)), "both instances destroyed");
  assert.equal(server.instances.size, 0, "nothing left rented");
  // The second machine resumed from the checkpoint, not from scratch, and finished.
  const second = run.instances.find((id) => id !== outbidId) as number;
  assert.equal(checkpointStep(second), 80);
  const log = readFileSync(join(hostOf.get(second)?.home ?? "", ".spotrun", "run.log"), "utf8");
  assert.match(log, /start at step [1-9]\d* \(restart=true/, log.slice(0, 300));
});

test("budget: max_cost stops the job on Vast and its instance is destroyed", async () => {
  // $0.15/h (the cheapest bid) spends $0.0005 in 12 s; the run would take 50 s.
  const run = await runJob(
    "budget",
    `resources: {provider: vast, accelerators: "RTX_4090:1", spot: true, max_price: 0.5}
envs: {TOTAL_STEPS: 1000, CHECKPOINT_EVERY: 10, STEP_SECONDS: 0.05}
budget: {max_cost: 0.0005}
`,
  );
  assert.equal(run.state, "OVER_BUDGET", run.message ?? "");
  assert.equal(run.instances.length, 1);
  assert.ok(destroyedIds().has(run.instances[0] as number), "the instance was destroyed when the budget ran out");
  assert.equal(server.instances.size, 0);
  const step = checkpointStep(run.instances[0] as number);
  assert.ok(step > 0 && step < 1000, `stopped part way, at step ${step}`);
});

test("a machine that never starts is given up after the start limit, destroyed, and the job runs on the next offer", async () => {
  server.neverStart(102);
  const run = await runJob(
    "stuck",
    `resources: {provider: vast, accelerators: "RTX_4090:1", spot: false, max_price: 0.5}
envs: {TOTAL_STEPS: 10, CHECKPOINT_EVERY: 5, STEP_SECONDS: 0.05}
`,
    { startTimeoutMs: 2_000 },
  );
  assert.equal(run.state, "SUCCEEDED", run.message ?? "");
  assert.deepEqual(
    run.creates.map((c) => [c.path, c.body.price]),
    [
      ["/api/v0/asks/102/", null],
      ["/api/v0/asks/101/", null],
    ],
    "on-demand, cheapest first, then the next offer",
  );
  const destroyed = destroyedIds();
  assert.ok(
    run.instances.length === 2 && run.instances.every((id) => destroyed.has(id)),
    "the stuck instance and the one that ran were both destroyed",
  );
  assert.equal(server.instances.size, 0);
});
