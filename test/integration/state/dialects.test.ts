import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { InstanceId, JobId } from "../../../src/base/ids.js";
import type { JobState } from "../../../src/state/job-states.js";
import { openStateStore } from "../../../src/state/open-state-store.js";
import type { JobRow, StateStore } from "../../../src/state/state-store.js";
import { type PostgresServer, startPostgres } from "../../support-pg/postgres-server.js";

const JA = JobId("j-a");

/**
 * The state store is one interface over two dialects: embedded SQLite and a team's PostgreSQL.
 * The same calls give the same answers on both, against a real PostgreSQL server.
 */
const job = (id: string, created: number, state: JobState = "PENDING"): JobRow => ({
  id: JobId(id),
  name: `n-${id}`,
  task_json: "{}",
  base_dir: "/w",
  state,
  desired: "run",
  created_at: created,
  updated_at: created,
  ended_at: null,
  attempt: -1,
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

let pg: PostgresServer;
let home: string;
before(async () => {
  pg = await startPostgres();
  home = await mkdtemp(join(tmpdir(), "spotrun-dialects-"));
});
after(async () => {
  await pg.stop();
  await rm(home, { recursive: true, force: true });
});

for (const dialect of ["sqlite", "postgres"] as const) {
  describe(`the state store on ${dialect}`, () => {
    let store: StateStore;
    before(async () => {
      store = await openStateStore(join(home, dialect), dialect === "postgres" ? pg.url : "");
    });
    after(async () => store.close());

    test("jobs, attempts, instances and events round-trip with numbers as numbers", async () => {
      assert.equal(store.shared, dialect === "postgres");
      const big = Date.UTC(2026, 10, 23, 12, 0, 0, 123);
      await store.insertJob(job("j-a", big));
      await store.insertAttempt({
        job_id: JA,
        idx: 0,
        state: "LAUNCHING",
        spot: true,
        instance_type: "t",
        started_at: big + 5,
        ended_at: null,
        end_kind: null,
        end_detail: null,
        events_offset: 0,
        log_offset: 0,
        agent_started: false,
        notice_at: null,
        last_heartbeat: null,
        stop_reason: null,
      });
      await store.upsertInstance({
        id: InstanceId("i-1"),
        job_id: JA,
        attempt: 0,
        node: 0,
        provider: "local",
        instance_type: "t",
        zone: null,
        spot: true,
        price_per_hour: 0.0301,
        od_price_per_hour: 0.1,
        launched_at: big + 6,
        ended_at: null,
        end_reason: null,
        address: null,
      });
      await store.transaction(async (tx) => {
        await tx.appendEvent(JA, big + 7, { kind: "run_started", attempt: 0, restart: false });
        await tx.appendEvent(JA, big + 8, { kind: "warning", message: "w" });
        await tx.appendEvent(JA, big + 9, { kind: "run_started", attempt: 1, restart: true });
      });
      const row = await store.job(JA);
      assert.equal(row?.created_at, big);
      assert.equal(typeof row?.created_at, "number");
      assert.equal((await store.attempts(JA))[0]?.started_at, big + 5);
      assert.equal((await store.instances({ jobId: JA, live: true }))[0]?.price_per_hour, 0.0301);
      // The 0/1 columns are booleans in rows, 0/1 integers in the table, both ways and in a patch.
      assert.deepEqual(
        (await store.attempts(JA)).map((a) => [a.spot, a.agent_started]),
        [[true, false]],
      );
      assert.equal((await store.instancesOfJobs([JA]))[0]?.spot, true);
      await store.updateAttempt(JA, 0, { agent_started: true });
      assert.equal((await store.attempt(JA, 0))?.agent_started, true);
      assert.equal((await store.attemptsOfJobs([JA]))[0]?.spot, true);
      const raw = await store.db.selectFrom("attempts").select(["spot", "agent_started"]).where("job_id", "=", "j-a").execute();
      assert.deepEqual(
        raw.map((r) => [Number(r.spot), Number(r.agent_started)]),
        [[1, 1]],
      );
      await store.updateAttempt(JA, 0, { spot: false });
      assert.equal((await store.attempt(JA, 0))?.spot, false);
      const events = await store.events(JA);
      assert.deepEqual(
        events.map((e) => [e.kind, Number(e.at)]),
        [
          ["run_started", big + 7],
          ["warning", big + 8],
          ["run_started", big + 9],
        ],
      );
      assert.ok((events[0]?.seq ?? 0) < (events[1]?.seq ?? 0), "sequence numbers increase");
      assert.equal((await store.eventsOfKind(JA, ["run_started"])).length, 2);
      assert.equal((await store.findJob("n-j-a"))?.id, "j-a");
    });

    test("a failing transaction leaves nothing behind", async () => {
      await assert.rejects(
        store.transaction(async (tx) => {
          await tx.insertJob(job("j-rolled-back", 1));
          throw new Error("boom");
        }),
        /boom/,
      );
      assert.equal(await store.job(JobId("j-rolled-back")), undefined);
    });

    test("job leases: a controller holds what it claimed, renews it, and loses it when it runs out", async () => {
      for (const [i, id] of ["j-1", "j-2", "j-3"].entries()) await store.insertJob(job(id, 1000 + i));
      await store.insertJob(job("j-done", 900, "SUCCEEDED"));
      // j-a (from the first test) is the newest active job.
      const a = await store.claimJobs("A", 10_000, 25_000, 2);
      assert.deepEqual(a, ["j-1", "j-2"], "oldest active first, terminal jobs never");
      const b = await store.claimJobs("B", 10_000, 25_000, 10);
      assert.deepEqual(b, ["j-3", "j-a"], "B gets only what A does not hold");
      assert.deepEqual(await store.claimJobs("A", 20_000, 35_000, 2), ["j-1", "j-2"], "A renews its own");
      // B stops renewing; past its lease, A may take its jobs.
      assert.deepEqual(await store.claimJobs("A", 30_000, 45_000, 10), ["j-1", "j-2", "j-3", "j-a"]);
      await store.releaseJobs("A");
      assert.deepEqual(await store.claimJobs("B", 30_001, 45_000, 10), ["j-1", "j-2", "j-3", "j-a"], "released at once");
      await store.releaseJobs("B");
    });

    test("a setting is written once: the first writer's value stands", async () => {
      assert.equal(await store.ensureSetting("store_id", "first"), "first");
      assert.equal(await store.ensureSetting("store_id", "second"), "first");
    });

    test("controller leases: acquired, held against another owner, listed by prefix, released", async () => {
      assert.equal(await store.acquireLease("controller:A", "A", 15_000, 1000, () => true), true);
      assert.equal(await store.acquireLease("controller:A", "B", 15_000, 2000, () => true), false);
      assert.deepEqual(
        (await store.liveLeases("controller:", 2000)).map((l) => l.owner),
        ["A"],
      );
      assert.deepEqual(await store.liveLeases("controller:", 20_000), [], "run out");
      await store.releaseLease("controller:A", "A");
      assert.equal(await store.lease("controller:A"), undefined);
    });
  });
}

test("on PostgreSQL, controllers claiming at the same moment never get the same job (SKIP LOCKED)", async () => {
  const stores = await Promise.all(Array.from({ length: 4 }, () => openStateStore(join(home, "unused"), pg.url)));
  try {
    const [first] = stores;
    assert.ok(first);
    for (let i = 0; i < 60; i++) await first.insertJob(job(`c-${String(i).padStart(2, "0")}`, 5000 + i));
    const claims = await Promise.all(stores.map((s, k) => s.claimJobs(`ctl-${k}`, 50_000, 60_000, 10)));
    const all = claims.flat();
    assert.equal(all.length, 40, "each takes its ten");
    assert.equal(new Set(all).size, 40, `no job claimed twice: ${JSON.stringify(claims)}`);
  } finally {
    await Promise.all(stores.map((s) => s.close()));
  }
});
