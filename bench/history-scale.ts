/**
 * Scale of the interruption history: 100,000 managed instances (one per attempt, 10,000 jobs) in
 * 320 capacity pools, in the real state store. Measured: `spotrun history` (every pool), the read
 * a ranking makes (one provider, the task's two types: `offers --task` and the failover walk), and
 * the controller's cached read per launch. The peer is the same ranking read without the
 * instances_pool index, dropped in the same run. Then the same on a team's PostgreSQL.
 * Run: node dist/bench/history-scale.js [instances]
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import { InstanceId, JobId } from "../src/base/ids.js";
import { InterruptionHistory } from "../src/core/interruption-history.js";
import type { Offer } from "../src/providers/provider.js";
import { openStateStore } from "../src/state/open-state-store.js";
import { poolRecords } from "../src/state/pool-records.js";
import {
  type AttemptRow,
  attemptIn,
  type InstanceRow,
  instanceIn,
  type JobRow,
  type StateStore,
} from "../src/state/state-store.js";
import { startPostgres } from "../test/support-pg/postgres-server.js";

const total = Number(process.argv[2] ?? 100_000);
const PER_JOB = 10;
const H = 3_600_000;
const T0 = Date.UTC(2026, 0, 1);
const NOW = T0 + 90 * 24 * H;

const awsTypes = Array.from({ length: 20 }, (_, i) => `aws.type${i}`);
const gcpTypes = Array.from({ length: 10 }, (_, i) => `gcp.type${i}`);
const pools = [
  ...awsTypes.flatMap((t) =>
    ["a", "b", "c", "d", "e", "f"].map((z) => ({ provider: "aws", type: t, zone: `us-east-1${z}`, region: "us-east-1" })),
  ),
  ...gcpTypes.flatMap((t) =>
    ["a", "b", "c", "f"].map((z) => ({ provider: "gcp", type: t, zone: `us-central1-${z}`, region: "us-central1" })),
  ),
];

/** A deterministic generator, so every run (and both dialects) hold the same rows. */
function lcg(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

async function fill(store: StateStore): Promise<void> {
  const rnd = lcg(42);
  const jobs = Math.ceil(total / PER_JOB);
  const batch = 500;
  for (let j0 = 0; j0 < jobs; j0 += batch / PER_JOB) {
    const jobRows: JobRow[] = [];
    const attempts: AttemptRow[] = [];
    const instances: InstanceRow[] = [];
    for (let j = j0; j < Math.min(jobs, j0 + batch / PER_JOB); j++) {
      const id = JobId(`j-${j}`);
      jobRows.push({
        id,
        name: id,
        task_json: "{}",
        base_dir: "/w",
        state: "SUCCEEDED",
        desired: "run",
        created_at: T0,
        updated_at: T0,
        ended_at: NOW,
        attempt: PER_JOB - 1,
        preemptions: 0,
        error_restarts: 0,
        launch_failures: 0,
        spot_requests: 0,
        store_url: "file:///c",
        message: null,
        array_id: null,
        array_index: null,
        budget_warned: 0,
        not_before: 0,
        log_bytes: 0,
        policy_json: null,
      });
      let t = T0 + Math.floor(rnd() * 60 * 24 * H);
      for (let idx = 0; idx < PER_JOB && j * PER_JOB + idx < total; idx++) {
        const p = pools[Math.floor(rnd() * pools.length)] as (typeof pools)[number];
        const spot = rnd() < 0.8;
        const len = Math.floor(rnd() * 6 * H);
        const end = spot && rnd() < 0.3 ? "preempted" : idx === PER_JOB - 1 ? "succeeded" : "changeover";
        attempts.push({
          job_id: id,
          idx,
          state: "ENDED",
          spot,
          instance_type: p.type,
          started_at: t,
          ended_at: t + len,
          end_kind: end,
          end_detail: null,
          events_offset: 0,
          log_offset: 0,
          agent_started: true,
          notice_at: null,
          last_heartbeat: null,
          stop_reason: null,
        });
        instances.push({
          id: InstanceId(`i-${j}-${idx}`),
          job_id: id,
          attempt: idx,
          node: 0,
          provider: p.provider,
          instance_type: p.type,
          zone: p.zone,
          region: p.region,
          spot,
          price_per_hour: 0.5,
          od_price_per_hour: 1.5,
          launched_at: t,
          ended_at: t + len,
          end_reason: end,
          address: null,
        });
        t += len;
      }
    }
    await store.transaction(async (tx) => {
      await tx.db.insertInto("jobs").values(jobRows).execute();
      await tx.db
        .insertInto("attempts")
        .values(attempts.map((a) => attemptIn(a)))
        .execute();
      await tx.db.insertInto("instances").values(instances.map(instanceIn)).execute();
    });
  }
}

/** Median wall time of `runs` calls, and this process's CPU time for the median call (SQLite answers in-process). */
async function median(runs: number, f: () => Promise<unknown>): Promise<{ ms: number; cpuMs: number }> {
  const got: { ms: number; cpuMs: number }[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const c = process.cpuUsage();
    await f();
    const d = process.cpuUsage(c);
    got.push({ ms: performance.now() - t, cpuMs: (d.user + d.system) / 1000 });
  }
  return got.sort((a, b) => a.ms - b.ms)[Math.floor(runs / 2)] as { ms: number; cpuMs: number };
}

const show = (m: { ms: number; cpuMs: number }, inProcess: boolean) =>
  `${m.ms.toFixed(1)} ms${inProcess ? ` (${m.cpuMs.toFixed(1)} ms CPU)` : ""}`;

const offer = (instanceType: string): Offer => ({
  provider: "aws",
  id: `${instanceType}/spot`,
  instanceType,
  region: "us-east-1",
  spot: true,
  pricePerHour: 0.5,
  onDemandPricePerHour: 1.5,
});

async function measure(label: string, store: StateStore): Promise<void> {
  const inProcess = !store.shared;
  const t = performance.now();
  await fill(store);
  console.log(
    `${label}: ${total.toLocaleString("en")} instances in ${pools.length * 2} pools, filled in ${((performance.now() - t) / 1000).toFixed(1)} s`,
  );
  const all = await poolRecords(store, { nowMs: NOW });
  const preempted = all.reduce((n, p) => n + p.preemptions, 0);
  const hours = all.reduce((n, p) => n + p.exposureMs, 0) / H;
  console.log(
    `  ${all.length} pools, ${preempted.toLocaleString("en")} preemptions in ${Math.round(hours).toLocaleString("en")} instance-hours`,
  );
  const everything = await median(5, () => poolRecords(store, { nowMs: NOW }));
  const offers = [offer(awsTypes[3] as string), offer(awsTypes[7] as string)];
  const ranking = { provider: "aws", instanceTypes: offers.map((o) => o.instanceType), nowMs: NOW };
  const read = await median(9, () => poolRecords(store, ranking));
  const cache = new InterruptionHistory(store, () => NOW);
  const first = await median(1, () => cache.forOffers(offers));
  const calls = 10_000;
  const c0 = performance.now();
  for (let i = 0; i < calls; i++) await cache.forOffers(offers);
  const perCall = ((performance.now() - c0) / calls) * 1000;
  await sql`drop index instances_pool`.execute(store.db);
  const unindexed = await median(9, () => poolRecords(store, ranking));
  console.log(`  history (every pool): ${show(everything, inProcess)}`);
  console.log(
    `  a ranking's read (1 provider, 2 types): ${show(read, inProcess)}; without the index ${show(unindexed, inProcess)}: ${(unindexed.ms / read.ms).toFixed(1)}× the time${inProcess ? `, ${(unindexed.cpuMs / Math.max(read.cpuMs, 0.001)).toFixed(1)}× the CPU` : ""}`,
  );
  console.log(
    `  the controller's read for a launch: ${show(first, inProcess)} once a minute, then ${perCall.toFixed(2)} µs from its cache`,
  );
}

const root = await mkdtemp(join(tmpdir(), "spotrun-bench-history-"));
const pg = await startPostgres();
try {
  const lite = await openStateStore(join(root, "sqlite"), "");
  await measure("SQLite", lite);
  await lite.close();
  const shared = await openStateStore(join(root, "pg"), pg.url);
  await measure("PostgreSQL", shared);
  await shared.close();
} finally {
  await pg.stop();
  await rm(root, { recursive: true, force: true });
}
