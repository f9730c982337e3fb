/**
 * Scale of the controller: 10,000 running jobs in the real state store, reconciled by the real
 * controller loop. The provider and transports are fakes of our own interfaces (instances that
 * stay up, agents with nothing new to say), so what is measured is the controller's own cost: the
 * time for every job to be visited once, memory, and that the process runs no timer per job.
 * Then the same jobs in a team's PostgreSQL store (a real server, started here), worked by one
 * controller and by two that lease the jobs between them: the ratio to SQLite is printed.
 * Run: node dist/bench/controller-scale.js [jobs]
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { systemClock } from "../src/base/clock.js";
import { InstanceId } from "../src/base/ids.js";
import { silentLogger } from "../src/base/logger.js";
import { Controller } from "../src/core/controller.js";
import type { InstanceInfo, LaunchRequest, LaunchResult, Offer, Provider } from "../src/providers/provider.js";
import type { ProviderCache } from "../src/providers/registry.js";
import { parseTaskText } from "../src/spec/load-task.js";
import { openSqlite } from "../src/state/open-sqlite.js";
import { openStateStore } from "../src/state/open-state-store.js";
import { StateStore } from "../src/state/state-store.js";
import type { ExecResult, Transport } from "../src/transport/transport.js";
import { startPostgres } from "../test/support-pg/postgres-server.js";

const n = Number(process.argv[2] ?? 10_000);
let reads = 0;

const quietTransport = (id: string): Transport => ({
  label: `fake:${id}`,
  home: "/",
  exec: async (): Promise<ExecResult> => ({ exitCode: 0, signal: null, stdout: "", stderr: "" }),
  readFile: async (path) => {
    reads++;
    return path.endsWith("heartbeat") ? Buffer.from(String(Date.now())) : Buffer.alloc(0);
  },
  writeFile: async () => {},
  upload: async () => {},
  download: async () => {},
  close: async () => {},
});

class SteadyProvider implements Provider {
  readonly kind = "local" as const;
  readonly noticeSource = "aws-imds" as const;
  describes = 0;
  async offers(): Promise<Offer[]> {
    return [];
  }
  async launch(_req: LaunchRequest): Promise<LaunchResult> {
    throw new Error("no launches in this benchmark");
  }
  async describe(ids: InstanceId[]): Promise<InstanceInfo[]> {
    this.describes++;
    return ids.map((id) => ({
      id,
      provider: "local",
      instanceType: "local.small",
      spot: true,
      status: "running",
      pricePerHour: 0.03,
      onDemandPricePerHour: 0.1,
      launchedAt: Date.now() - 60_000,
      tags: {},
    }));
  }
  async list(): Promise<InstanceInfo[]> {
    return [];
  }
  async terminate(): Promise<void> {}
  async transport(i: InstanceInfo): Promise<Transport> {
    return quietTransport(i.id);
  }
  agentEnv(): Record<string, string> {
    return {};
  }
}

async function seed(store: StateStore, home: string): Promise<number> {
  const task = JSON.stringify(parseTaskText("run: train\nresources: {provider: local}\n", "bench.yaml"));
  const now = Date.now();
  const t0 = performance.now();
  await store.transaction(async (tx) => {
    for (let i = 0; i < n; i++) {
      const id = `j-bench${String(i).padStart(6, "0")}`;
      await tx.insertJob({
        id,
        name: `job-${i}`,
        task_json: task,
        base_dir: home,
        state: "RUNNING",
        desired: "run",
        created_at: now,
        updated_at: now,
        ended_at: null,
        attempt: 0,
        preemptions: 0,
        error_restarts: 0,
        launch_failures: 0,
        spot_requests: 1,
        store_url: `file://${home}/ck/${id}`,
        message: null,
        array_id: null,
        array_index: null,
        budget_warned: 0,
        not_before: 0,
        log_bytes: 0,
        policy_json: null,
      });
      await tx.insertAttempt({
        job_id: id,
        idx: 0,
        state: "RUNNING",
        spot: 1,
        instance_type: "local.small",
        started_at: now,
        ended_at: null,
        end_kind: null,
        end_detail: null,
        events_offset: 0,
        log_offset: 0,
        agent_started: 1,
        notice_at: null,
        last_heartbeat: now,
        stop_reason: null,
      });
      await tx.upsertInstance({
        id: InstanceId(`i-${i}`),
        job_id: id,
        attempt: 0,
        node: 0,
        provider: "local",
        instance_type: "local.small",
        zone: "local-1a",
        spot: 1,
        price_per_hour: 0.03,
        od_price_per_hour: 0.1,
        launched_at: now,
        ended_at: null,
        end_reason: null,
        address: null,
      });
    }
  });
  return performance.now() - t0;
}

/** Controllers on the stores until every job was visited three times; the time per full pass. */
async function passTime(stores: StateStore[], home: string): Promise<number> {
  const provider = new SteadyProvider();
  const providers = { get: async () => provider, closeAll: async () => {} } as unknown as ProviderCache;
  const started = performance.now();
  await Promise.all(
    stores.map((store) =>
      new Controller({
        store,
        providers,
        home,
        clock: systemClock,
        logger: silentLogger,
        reapEveryMs: 3_600_000,
        maxJobs: Math.ceil(n / stores.length),
      }).run({ until: async () => provider.describes >= 3 * n }),
    ),
  );
  return (performance.now() - started) / 3;
}

const home = await mkdtemp(join(tmpdir(), "spotrun-bench-scale-"));
const pg = await startPostgres();
try {
  const store = new StateStore(await openSqlite(home));
  const seeded = await seed(store, home);
  const rssBefore = process.memoryUsage().rss;
  const handlesBefore = process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
  const sqlitePass = await passTime([store], home);
  const timers = process.getActiveResourcesInfo().filter((r) => r === "Timeout").length - handlesBefore;
  console.log(`controller scale: ${n} running jobs (real store and reconcile loop; fake provider/transport)`);
  console.log(`  SQLite, one controller: seeded in ${seeded.toFixed(0)} ms`);
  console.log(`  every job visited every ${sqlitePass.toFixed(0)} ms (${(n / (sqlitePass / 1000)).toFixed(0)} visits/s)`);
  console.log(
    `  agent reads: ${reads}; memory growth ${((process.memoryUsage().rss - rssBefore) / 1e6).toFixed(0)} MB; timers left running: ${timers} (one loop, none per job)`,
  );
  await store.close();

  const shared = await openStateStore(home, pg.url);
  await seed(shared, home);
  const onePass = await passTime([shared], home);
  const second = await openStateStore(home, pg.url);
  await shared.db.updateTable("jobs").set({ lease_owner: null, lease_expires_at: null }).execute();
  const twoPass = await passTime([shared, second], home);
  console.log(
    `  PostgreSQL (team store), one controller: every job visited every ${onePass.toFixed(0)} ms (${(onePass / sqlitePass).toFixed(2)}× SQLite)`,
  );
  console.log(
    `  PostgreSQL, two controllers leasing ${Math.ceil(n / 2)} jobs each (in this one process, so one CPU: the cost of leasing, not scale-out): every job visited every ${twoPass.toFixed(0)} ms (${(twoPass / sqlitePass).toFixed(2)}× SQLite)`,
  );
  await shared.close();
  await second.close();
  console.log("  (no peer measured: SkyPilot's managed jobs run a controller process per job and cannot run here)");
} finally {
  await pg.stop();
  await rm(home, { recursive: true, force: true });
}
