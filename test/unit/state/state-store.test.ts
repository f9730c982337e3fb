import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { sql } from "kysely";
import { JobId } from "../../../src/base/ids.js";
import { openSqlite } from "../../../src/state/open-sqlite.js";
import { StateStore } from "../../../src/state/state-store.js";

const J1 = JobId("j-1");

test("a job's events of some kinds only, in order, from a migrated store", async () => {
  const home = await mkdtemp(join(tmpdir(), "spotrun-store-"));
  const db = await openSqlite(home);
  const store = new StateStore(db);
  try {
    await store.insertJob({
      id: J1,
      name: "n",
      task_json: "{}",
      base_dir: home,
      state: "PENDING",
      desired: "run",
      created_at: 0,
      updated_at: 0,
      ended_at: null,
      attempt: -1,
      preemptions: 0,
      error_restarts: 0,
      launch_failures: 0,
      spot_requests: 0,
      store_url: "file:///x",
      message: null,
      array_id: null,
      array_index: null,
      budget_warned: 0,
      not_before: 0,
      log_bytes: 0,
      policy_json: null,
    });
    await store.appendEvent(J1, 1, { kind: "run_started", attempt: 0, restart: false });
    await store.appendEvent(J1, 2, { kind: "warning", message: "w" });
    await store.appendEvent(J1, 3, { kind: "run_exited", attempt: 0, exit_code: 0, signal: null });
    await store.appendEvent(J1, 4, { kind: "run_started", attempt: 1, restart: true });
    const got = await store.eventsOfKind(J1, ["run_started", "run_exited"]);
    assert.deepEqual(
      got.map((e) => [Number(e.at), e.kind]),
      [
        [1, "run_started"],
        [3, "run_exited"],
        [4, "run_started"],
      ],
    );
    assert.deepEqual(await store.eventsOfKind(J1, []), []);
    // Served by an index, so a decision's read does not grow with the job's history.
    const plan = await sql<{
      detail: string;
    }>`explain query plan select * from events where job_id = 'j-1' and kind in ('run_started') order by seq`.execute(db);
    assert.match(plan.rows.map((r) => r.detail).join("; "), /events_job_kind/);
  } finally {
    await db.destroy();
    await rm(home, { recursive: true, force: true });
  }
});
