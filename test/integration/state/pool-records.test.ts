import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { openStateStore } from "../../../src/state/open-state-store.js";
import { type PoolRow, poolRecords } from "../../../src/state/pool-records.js";
import type { StateStore } from "../../../src/state/state-store.js";
import { type PostgresServer, startPostgres } from "../../support-pg/postgres-server.js";
import { type HistoryNode, recordAttempt, recordSpare } from "../../support-state/history-rows.js";

/**
 * Interruption history is one grouped query over instances and attempts: the same rows give the
 * same pools on SQLite and on a real PostgreSQL server. Rows go in through the store's own API,
 * as the controller writes them.
 */
const H = 3_600_000;
const T0 = Date.UTC(2026, 0, 5);
const NOW = T0 + 100 * H;
const attempt = (store: StateStore, job: string, idx: number, end: string | null, nodes: HistoryNode[]) =>
  recordAttempt(store, { job, idx, end, nodes, t0: T0 });

let pg: PostgresServer;
let home: string;
before(async () => {
  pg = await startPostgres();
  home = await mkdtemp(join(tmpdir(), "spotrun-pools-"));
});
after(async () => {
  await pg.stop();
  await rm(home, { recursive: true, force: true });
});

const brief = (rows: PoolRow[]) =>
  rows.map((r) => [
    `${r.provider}/${r.region}/${r.zone}/${r.instanceType}/${r.spot ? "spot" : "od"}`,
    r.instances,
    Math.round((r.exposureMs / H) * 1000) / 1000,
    r.preemptions,
  ]);

for (const dialect of ["sqlite", "postgres"] as const) {
  describe(`pool history on ${dialect}`, () => {
    let store: StateStore;
    before(async () => {
      store = await openStateStore(join(home, dialect), dialect === "postgres" ? pg.url : "");
      // Job a: preempted twice on local.small spot in local-1a, then succeeded there.
      await attempt(store, "a", 0, "preempted", [{ zone: "local-1a", spot: true, from: 0, to: 10 }]);
      await attempt(store, "a", 1, "preempted", [{ zone: "local-1a", spot: true, from: 10, to: 30 }]);
      await attempt(store, "a", 2, "succeeded", [{ zone: "local-1a", spot: true, from: 30, to: 40 }]);
      // Job b: two nodes, one reclaim ends the attempt: one preemption, both nodes' hours.
      await attempt(store, "b", 0, "preempted", [
        { zone: "local-1a", spot: true, from: 0, to: 5 },
        { zone: "local-1a", spot: true, from: 0, to: 5 },
      ]);
      // Job c: on-demand, an attempt that ended "preempted" (no spot: not a preemption), then live.
      await attempt(store, "c", 0, "preempted", [{ zone: "local-1a", spot: false, from: 50, to: 60 }]);
      await attempt(store, "c", 1, null, [{ zone: "local-1a", spot: false, from: 90 }]);
      // Job d: spot in another zone, lost (an agent gone quiet: not counted as a preemption), and
      // an instance the reaper ended.
      await attempt(store, "d", 0, "lost", [{ zone: "local-1b", spot: true, from: 0, to: 8 }]);
      await attempt(store, "d", 1, "cancelled", [{ zone: "local-1b", spot: true, from: 8, to: 9, reason: "reaped" }]);
      // Job d's warm replacements no attempt took: one of two nodes reclaimed before its go (a
      // preemption, counted once), one given up (time only).
      const spare = (key: string, reason: string, nodes: HistoryNode[]) =>
        recordSpare(store, { job: "d", key, reason, nodes, t0: T0 });
      await spare("s1", "preempted", [
        { zone: "local-1b", spot: true, from: 0, to: 1 },
        { zone: "local-1b", spot: true, from: 0, to: 1 },
      ]);
      await spare("s2", "replacement given up", [{ zone: "local-1b", spot: true, from: 2, to: 3 }]);
      // Job e: a Vast host (no zone, its geolocation as region), and an AWS row from before regions.
      await attempt(store, "e", 0, "preempted", [
        { provider: "vast", region: "Texas, US", zone: null, type: "RTX_4090:1", spot: true, from: 0, to: 2 },
      ]);
      await attempt(store, "f", 0, "preempted", [
        { provider: "aws", region: null, zone: "us-east-1a", type: "g5.xlarge", spot: true, from: 0, to: 4 },
      ]);
    });
    after(async () => store.close());

    test("hours and preemptions per pool: one preemption per preempted spot attempt, live time up to now", async () => {
      assert.deepEqual(brief(await poolRecords(store, { nowMs: NOW })), [
        ["aws/null/us-east-1a/g5.xlarge/spot", 1, 4, 1],
        ["local/local/local-1a/local.small/spot", 5, 10 + 20 + 10 + 5 + 5, 3],
        ["local/local/local-1a/local.small/od", 2, 10 + 10, 0],
        ["local/local/local-1b/local.small/spot", 5, 8 + 1 + 2 + 1, 1],
        ["vast/Texas, US/null/RTX_4090:1/spot", 1, 2, 1],
      ]);
      const [first] = await poolRecords(store, { nowMs: NOW, provider: "local", spot: true, zone: "local-1a" });
      assert.equal(first?.firstAt, T0);
      assert.equal(first?.lastAt, T0 + 40 * H);
      assert.equal(typeof first?.exposureMs, "number");
    });

    test("since clips instance time to the window and keeps only preemptions that ended in it", async () => {
      // From hour 20: a's attempt 1 (10 of its hours, its preemption at 30) and attempt 2; c's last
      // 10 live hours and its hour-50 instance; nothing of b or d.
      assert.deepEqual(brief(await poolRecords(store, { nowMs: NOW, sinceMs: T0 + 20 * H, provider: "local" })), [
        ["local/local/local-1a/local.small/spot", 2, 10 + 10, 1],
        ["local/local/local-1a/local.small/od", 2, 20, 0],
      ]);
    });

    test("filters by provider, types, zone, region and market", async () => {
      const ids = async (f: Parameters<typeof poolRecords>[1]) => brief(await poolRecords(store, f)).map((r) => r[0]);
      assert.deepEqual(await ids({ nowMs: NOW, provider: "vast" }), ["vast/Texas, US/null/RTX_4090:1/spot"]);
      assert.deepEqual(await ids({ nowMs: NOW, instanceTypes: ["g5.xlarge", "RTX_4090:1"] }), [
        "aws/null/us-east-1a/g5.xlarge/spot",
        "vast/Texas, US/null/RTX_4090:1/spot",
      ]);
      assert.deepEqual(await ids({ nowMs: NOW, instanceTypes: [] }), []);
      assert.deepEqual(await ids({ nowMs: NOW, zone: "local-1b" }), ["local/local/local-1b/local.small/spot"]);
      assert.deepEqual(await ids({ nowMs: NOW, region: "Texas, US" }), ["vast/Texas, US/null/RTX_4090:1/spot"]);
      assert.deepEqual(await ids({ nowMs: NOW, provider: "local", spot: false }), ["local/local/local-1a/local.small/od"]);
    });
  });
}
