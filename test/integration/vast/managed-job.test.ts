import assert from "node:assert/strict";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { cp, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { systemClock } from "../../../src/base/clock.js";
import { createLogger, silentLogger } from "../../../src/base/logger.js";
import { spotrunCommand } from "../../../src/base/self.js";
import { Controller } from "../../../src/core/controller.js";
import { submitJob } from "../../../src/core/submit.js";
import { createLoopbackSshHost } from "../../../src/providers/local/ssh-hosts/create-loopback-ssh-host.js";
import type { LoopbackSshHost } from "../../../src/providers/local/ssh-hosts/ssh-host.js";
import type { InstanceInfo, Provider } from "../../../src/providers/provider.js";
import { ProviderCache } from "../../../src/providers/registry.js";
import { VastClient } from "../../../src/providers/vast/client.js";
import { VastProvider } from "../../../src/providers/vast/vast-provider.js";
import type { CreateInstanceBody } from "../../../src/providers/vast/wire.js";
import { loadTaskFile } from "../../../src/spec/load-task.js";
import type { ProviderKind } from "../../../src/spec/task-schema.js";
import { openSqlite } from "../../../src/state/open-sqlite.js";
import { StateStore } from "../../../src/state/state-store.js";
import { connectSsh } from "../../../src/transport/ssh/connect.js";
import type { Transport } from "../../../src/transport/transport.js";
import { VastServer } from "../../servers/vast/vast-server.js";
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

/** Kill, by pid, every process working inside a host's home: what stopping its container does. */
function stopContainer(host: LoopbackSshHost): number {
  let killed = 0;
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const cwd = readlinkSync(`/proc/${name}/cwd`);
      const cmd = readFileSync(`/proc/${name}/cmdline`, "utf8");
      if (cwd.startsWith(host.home) || cmd.includes(host.home)) {
        process.kill(Number(name), "SIGKILL");
        killed++;
      }
    } catch {}
  }
  return killed;
}

/** The VastProvider with one difference: its "containers" share this machine, so each gets the home its sshd serves and this machine's spotrun. */
class LoopbackVastProvider extends VastProvider {
  override agentCommand(): string {
    return spotrunCommand();
  }
  override async transport(info: InstanceInfo): Promise<Transport> {
    const host = hostOf.get(Number(info.id));
    assert.ok(host, `no host for ${info.id}`);
    assert.equal(info.address, `${host.address}:${host.port}`, "the address came from the API's ssh fields");
    const t = await connectSsh({
      host: host.address,
      port: host.port,
      user: "root",
      privateKeyPath: host.clientKeyPath,
      knownHostsPath: join(root, "known_hosts"),
      home: host.home,
    });
    // In a container the login's $HOME is the machine's own; here every sshd shares /root, so
    // each command gets its machine's home as $HOME.
    return {
      label: t.label,
      home: t.home,
      exec: (command, opts) => t.exec(command, { ...opts, env: { HOME: host.home, ...opts?.env } }),
      readFile: (path, offset) => t.readFile(path, offset),
      writeFile: (path, data) => t.writeFile(path, data),
      upload: (from, to, opts) => t.upload(from, to, opts),
      download: (from, to) => t.download(from, to),
      close: () => t.close(),
    };
  }
}

class FixedProviders extends ProviderCache {
  constructor(private readonly p: Provider) {
    super({ home: "", logger: silentLogger });
  }
  override get(_kind: ProviderKind): Promise<Provider> {
    return Promise.resolve(this.p);
  }
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), "spotrun-vast-e2e-"));
  for (const k of [0, 1, 2])
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

test("outbid mid-run: detected from the API, instance destroyed, resumed from its checkpoint on a new offer, everything torn down", async () => {
  const home = join(root, "home");
  const work = join(root, "work");
  await mkdir(work, { recursive: true });
  await cp(join(process.cwd(), "examples", "quickstart", "trainer.py"), join(work, "trainer.py"));
  const taskPath = join(work, "task.yaml");
  await writeFile(
    taskPath,
    `name: vast-e2e
resources: {provider: vast, accelerators: "RTX_4090:1", min_reliability: 0.9, spot: true, max_price: 0.5, disk: 20}
workdir: .
run: python3 trainer.py
envs: {TOTAL_STEPS: 80, CHECKPOINT_EVERY: 10, STEP_SECONDS: 0.05}
checkpoint: {dir: checkpoints, store: "file://${join(root, "store")}"}
recovery: {max_restarts: 3}
`,
  );
  const store = new StateStore(await openSqlite(home));
  const provider = new LoopbackVastProvider({
    home,
    logger: silentLogger,
    client: new VastClient({ apiKey: API_KEY, baseUrl: server.url }),
  });
  const controller = new Controller({
    store,
    providers: new FixedProviders(provider),
    home,
    clock: systemClock,
    logger: process.env.VAST_E2E_DEBUG ? createLogger({ level: "debug" }) : silentLogger,
    tickMs: 50,
    steadyPollMs: 200,
  });
  const [jobId] = await submitJob(store, await loadTaskFile(taskPath), home, systemClock);
  assert.ok(jobId);

  let outbidId: number | undefined;
  const deadline = Date.now() + 45_000;
  const result = await controller.run({
    until: async () => {
      const job = await store.job(jobId);
      if (!job || ["SUCCEEDED", "FAILED", "CANCELLED"].includes(job.state)) return true;
      if (Date.now() > deadline)
        throw new Error(
          `job still ${job.state} after 45 s: ${job.message}; instances ${JSON.stringify([...server.instances.values()].map((s) => [s.inst.id, s.inst.actual_status]))}; last requests ${server.requests
            .slice(-5)
            .map((r) => `${r.method} ${r.path}`)
            .join(", ")}`,
        );
      // Once the first machine has checkpointed past step 20, someone outbids it.
      if (outbidId === undefined) {
        const [first] = server.instances.values();
        const ckpt = first && hostOf.get(first.inst.id);
        if (first?.inst.actual_status === "running" && ckpt) {
          try {
            const s = JSON.parse(readFileSync(join(ckpt.home, "workdir", "checkpoints", "state.json"), "utf8")) as {
              step: number;
            };
            if (s.step >= 20) {
              outbidId = first.inst.id;
              server.outbid(outbidId, 0.45);
              assert.ok(stopContainer(ckpt) > 0, "the outbid container had processes to stop");
            }
          } catch {}
        }
      }
      return false;
    },
  });
  assert.equal(result, "done");
  const job = await store.job(jobId);
  await store.close();
  assert.equal(job?.state, "SUCCEEDED", job?.message ?? "");
  assert.equal(job?.preemptions, 1);
  assert.ok(outbidId);

  // What Vast was asked: two bids, the first instance destroyed after the outbid, the second at the end.
  const creates = server.requestsTo("PUT", "/asks/").map((r) => r.body as CreateInstanceBody);
  assert.equal(creates.length, 2);
  assert.ok(
    creates.every((c) => c.price !== null && c.price <= 0.5),
    "interruptible, within max_price",
  );
  assert.notEqual(creates[0]?.label, creates[1]?.label, "each attempt has its own idempotency token");
  const destroyed = server.requestsTo("DELETE", "/instances/").map((r) => Number(r.path.split("/")[4]));
  assert.ok(destroyed.includes(outbidId), "the outbid instance was destroyed");
  assert.equal(server.instances.size, 0, "nothing left rented");
  assert.equal(new Set(destroyed).size, 2);
  // The second machine resumed from the checkpoint, not from scratch.
  const second = [...hostOf.entries()].find(([id]) => id !== outbidId)?.[1];
  assert.ok(second);
  const state = JSON.parse(readFileSync(join(second.home, "workdir", "checkpoints", "state.json"), "utf8")) as { step: number };
  assert.equal(state.step, 80);
});

test("budget: max_cost stops the job on Vast and its instance is destroyed", async () => {
  const home = join(root, "home-budget");
  const work = join(root, "work-budget");
  await mkdir(work, { recursive: true });
  await cp(join(process.cwd(), "examples", "quickstart", "trainer.py"), join(work, "trainer.py"));
  const taskPath = join(work, "task.yaml");
  // $0.15/h (the cheapest bid) spends $0.0002 in about 5 s; the run would take 20 s.
  await writeFile(
    taskPath,
    `name: vast-budget
resources: {provider: vast, accelerators: "RTX_4090:1", spot: true, max_price: 0.5}
workdir: .
run: python3 trainer.py
envs: {TOTAL_STEPS: 400, CHECKPOINT_EVERY: 10, STEP_SECONDS: 0.05}
checkpoint: {dir: checkpoints, store: "file://${join(root, "store-budget")}"}
budget: {max_cost: 0.0002}
`,
  );
  const before = new Set(hostOf.keys());
  const store = new StateStore(await openSqlite(home));
  const provider = new LoopbackVastProvider({
    home,
    logger: silentLogger,
    client: new VastClient({ apiKey: API_KEY, baseUrl: server.url }),
  });
  const controller = new Controller({
    store,
    providers: new FixedProviders(provider),
    home,
    clock: systemClock,
    logger: silentLogger,
    tickMs: 50,
    steadyPollMs: 200,
  });
  const [jobId] = await submitJob(store, await loadTaskFile(taskPath), home, systemClock);
  assert.ok(jobId);
  const deadline = Date.now() + 45_000;
  await controller.run({
    until: async () => {
      const job = await store.job(jobId);
      if (!job || ["SUCCEEDED", "FAILED", "CANCELLED", "OVER_BUDGET"].includes(job.state)) return true;
      if (Date.now() > deadline) throw new Error(`job still ${job.state} after 45 s: ${job.message}`);
      return false;
    },
  });
  const job = await store.job(jobId);
  await store.close();
  assert.equal(job?.state, "OVER_BUDGET", job?.message ?? "");
  const mine = [...hostOf.keys()].filter((id) => !before.has(id));
  assert.equal(mine.length, 1);
  assert.ok(
    server.requestsTo("DELETE", "/instances/").some((r) => r.path === `/api/v0/instances/${mine[0]}/`),
    "the instance was destroyed when the budget ran out",
  );
  assert.equal(server.instances.size, 0);
  const ckpt = JSON.parse(
    readFileSync(join(hostOf.get(mine[0] as number)?.home ?? "", "workdir", "checkpoints", "state.json"), "utf8"),
  ) as { step: number };
  assert.ok(ckpt.step > 0 && ckpt.step < 400, `stopped part way, at step ${ckpt.step}`);
});
