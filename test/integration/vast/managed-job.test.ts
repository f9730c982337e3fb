import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { systemClock } from "../../../src/base/clock.js";
import { createLogger, silentLogger } from "../../../src/base/logger.js";
import { submitJob } from "../../../src/core/submit.js";
import { ensureBareRootfs } from "../../../src/providers/local/bare-root/bare-rootfs.js";
import { createBareSshHost } from "../../../src/providers/local/ssh-hosts/create-bare-ssh-host.js";
import type { BareSshHost } from "../../../src/providers/local/ssh-hosts/ssh-host.js";
import { VastClient } from "../../../src/providers/vast/client.js";
import { VastProvider } from "../../../src/providers/vast/vast-provider.js";
import type { CreateInstanceBody } from "../../../src/providers/vast/wire.js";
import { loadTaskFile } from "../../../src/spec/load-task.js";
import { openSqlite } from "../../../src/state/open-sqlite.js";
import { StateStore } from "../../../src/state/state-store.js";
import { VastServer } from "../../servers/vast/vast-server.js";
import { fastController, serviceAddress, trainerJob } from "../../support-cloud/managed-job-kit.js";
import { S3RVER_CREDENTIALS, type S3rverFixture, startS3rver } from "../aws/s3rver-fixture.js";
import { API_KEY, OFFERS } from "./fixtures.js";

/**
 * A managed job on Vast, end to end except for Vast itself: the real controller, the real
 * VastProvider and client against the in-repo Vast server, and each rented "machine" a bare host
 * (its own namespace and minimal Debian root, no Node, no spotrun). The machine authorizes the key
 * spotrun attaches through the API and runs the container's onstart script, as Vast does, and the
 * provider reaches it by the address the API reports. Checkpoints go to s3rver with the scoped
 * credentials the controller hands over (Vast machines have no instance identity). Being outbid
 * stops the container; the job must notice from the API alone, destroy the instance, rent another
 * offer and resume from its newest checkpoint.
 */

let root: string;
let hosts: BareSshHost[] = [];
const hostOf = new Map<number, BareSshHost>();
let server: VastServer;
let s3: S3rverFixture;
let svc: { address: string; close(): void };

/** The credentials a scoped checkpoint-bucket key would give, handed to the agent and nothing else. */
const storeEnv = () => ({
  AWS_ENDPOINT_URL_S3: s3.endpoint,
  AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
  AWS_REGION: "us-east-1",
});

const log = () => (process.env.VAST_E2E_DEBUG ? createLogger({ level: "debug" }) : silentLogger);

// The bare hosts boot from a cached Debian root that a cold machine builds first (minutes;
// scripts/test.sh starts it beside the other tests): wait for it here, not inside a timed step.
before(() => ensureBareRootfs(), { timeout: 900_000 });
before(async () => {
  root = await mkdtemp(join(tmpdir(), "spotrun-vast-e2e-"));
  svc = await serviceAddress(`vast-svc-${process.pid % 100000}`, 170);
  s3 = await startS3rver(["ckpt"], { address: svc.address });
  for (const k of [0, 1, 2, 3, 4, 5])
    hosts.push(
      await createBareSshHost({ id: `vast-${process.pid % 100000}-${k}`, index: 171 + k, home: join(root, `machine-${k}`) }),
    );
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
    // What Vast does with an attached key and the create body's onstart: the container's root authorizes the one and runs the other.
    onAttachSsh: async (id, key) => {
      const host = hostOf.get(id);
      assert.ok(host, `no machine for ${id}`);
      await host.runAsRoot(`printf '%s\\n' "$KEY" >> /etc/ssh/spotrun_authorized_keys`, { KEY: key });
      const label = server.instances.get(id)?.inst.label;
      const onstart = server
        .requestsTo("PUT", "/asks/")
        .map((r) => r.body as CreateInstanceBody)
        .find((b) => b.label === label)?.onstart;
      assert.ok(onstart, `no onstart for ${id}`);
      assert.equal((await host.runAsRoot(onstart)).code, 0);
    },
    onDestroy: (id) => {
      void hostOf.get(id)?.stop();
    },
  });
  await server.start();
});

after(async () => {
  await server?.stop();
  for (const h of hosts) await h.stop();
  hosts = [];
  await s3?.close();
  svc?.close();
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
  opts: { startTimeoutMs?: number; sshTimeoutMs?: number; deadlineMs?: number; whileRunning?: () => void } = {},
): Promise<JobRun> {
  const { home, taskPath } = await trainerJob(
    root,
    name,
    `checkpoint: {dir: checkpoints, store: "s3://ckpt/${name}"}\n${resourcesAndMore}`,
    { home: `home-${name}`, work: `work-${name}` },
  );
  const before = new Set(hostOf.keys());
  const createsBefore = server.requestsTo("PUT", "/asks/").length;
  const store = new StateStore(await openSqlite(home));
  const provider = new VastProvider({
    storeEnv: storeEnv(),
    home,
    logger: log(),
    client: new VastClient({ apiKey: API_KEY, baseUrl: server.url }),
    ...(opts.startTimeoutMs ? { startTimeoutMs: opts.startTimeoutMs } : {}),
    ...(opts.sshTimeoutMs ? { sshTimeoutMs: opts.sshTimeoutMs } : {}),
  });
  const controller = fastController(store, provider, home, log());
  try {
    const [jobId] = await submitJob(store, await loadTaskFile(taskPath), home, systemClock);
    assert.ok(jobId);
    const deadline = Date.now() + (opts.deadlineMs ?? 75_000);
    await controller.run({
      until: async () => {
        const job = await store.job(jobId);
        if (!job || ["SUCCEEDED", "FAILED", "CANCELLED", "OVER_BUDGET"].includes(job.state)) return true;
        if (Date.now() > deadline) {
          const seen = server.requests.slice(-6).map((r) => `${r.method} ${r.path} ${r.status}`);
          throw new Error(
            `job still ${job.state} after ${(opts.deadlineMs ?? 75_000) / 1000} s: ${job.message}; server saw ${seen.join(", ")}`,
          );
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
  return (
    JSON.parse(readFileSync(join(host.rootDir, "root", "workdir", "checkpoints", "state.json"), "utf8")) as { step: number }
  ).step;
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
        // Vast stops the outbid container: everything on it goes.
        void hostOf.get(outbidId)?.stop();
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
  const log = readFileSync(join(hostOf.get(second)?.rootDir ?? "", "root", ".spotrun", "run.log"), "utf8");
  // The container ran its onstart, which installs nothing; the agent came over SSH.
  assert.match(
    readFileSync(join(hostOf.get(second)?.rootDir ?? "", "var", "log", "spotrun-onstart.log"), "utf8"),
    /nothing to install/,
  );
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

test("a machine that runs but never answers SSH is replaced after the SSH limit, destroyed, and the job runs on the next offer", async () => {
  server.noSsh(102);
  const destroyedBefore = destroyedIds().size;
  const run = await runJob(
    "no-ssh",
    `resources: {provider: vast, accelerators: "RTX_4090:1", spot: false, max_price: 0.5}
envs: {TOTAL_STEPS: 10, CHECKPOINT_EVERY: 5, STEP_SECONDS: 0.05}
`,
    // The connect's own retries take ~30 s before the first failure is reported.
    { sshTimeoutMs: 2_000, deadlineMs: 150_000 },
  );
  assert.equal(run.state, "SUCCEEDED", run.message ?? "");
  assert.deepEqual(
    run.creates.map((c) => c.path),
    ["/api/v0/asks/102/", "/api/v0/asks/101/"],
    "the unreachable machine first (cheapest), then the next offer — not the same machine again",
  );
  assert.equal(run.preemptions, 1, "the unreachable instance ended its attempt as a lost instance, not as a setup failure");
  assert.equal(run.instances.length, 1, "only the second one ever had a machine to log in to");
  assert.equal(destroyedIds().size - destroyedBefore, 2, "both instances were destroyed");
  assert.equal(server.instances.size, 0, "nothing left billing");
});

test("a machine that never starts is given up after the start limit, destroyed, and the job runs on the next offer", async () => {
  server.neverStart(102);
  const run = await runJob(
    "stuck",
    `resources: {provider: vast, accelerators: "RTX_4090:1", spot: false, max_price: 0.5}
envs: {TOTAL_STEPS: 10, CHECKPOINT_EVERY: 5, STEP_SECONDS: 0.05}
`,
    // Longer than a bare host takes to boot here (1.5–2.5 s), or the next offer's machine is "stuck" too.
    { startTimeoutMs: 6_000 },
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
