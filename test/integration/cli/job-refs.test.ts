import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { JobId } from "../../../src/base/ids.js";
import type { JobState } from "../../../src/state/job-states.js";
import { openSqlite } from "../../../src/state/open-sqlite.js";
import { type JobRow, StateStore } from "../../../src/state/state-store.js";
import { spotrun } from "../../support-cli/spotrun-cli.js";

/** Jobs that ended (so no command starts a controller for them), two of them named alike. */
const job = (id: string, name: string, created: number, state: JobState): JobRow => ({
  id: JobId(id),
  name,
  task_json: "{}",
  base_dir: "/",
  state,
  desired: "run",
  created_at: created,
  updated_at: created,
  ended_at: created + 1,
  attempt: -1,
  preemptions: 0,
  error_restarts: 0,
  launch_failures: 0,
  spot_requests: 0,
  store_url: "file:///nowhere",
  message: null,
  array_id: null,
  array_index: null,
  budget_warned: 0,
  not_before: 0,
  log_bytes: 0,
  policy_json: null,
});

let root: string;
let home: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), "spotrun-refs-"));
  home = join(root, "home");
  const store = new StateStore(await openSqlite(home));
  await store.insertJob(job("j-aaa111", "train", 1_000, "FAILED"));
  await store.insertJob(job("j-aaa222", "train", 2_000, "SUCCEEDED"));
  await store.insertJob(job("j-bbb333", "eval", 3_000, "SUCCEEDED"));
  await store.close();
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

test("a name two jobs share is refused the same way by status, logs, cancel and cost, naming both", async () => {
  for (const cmd of ["status", "logs", "cancel", "cost"]) {
    const r = await spotrun(home, [cmd, "train"], { timeoutMs: 30_000 });
    assert.equal(r.code, 2, `${cmd}: ${r.stderr}`);
    assert.equal(
      r.stderr,
      'spotrun: job name "train" is shared by 2 jobs: j-aaa222 (SUCCEEDED), j-aaa111 (FAILED) — give the job\'s id\n',
      cmd,
    );
  }
});

test("a unique name, a unique id prefix and an id still resolve; a shared prefix is refused", async () => {
  const byName = await spotrun(home, ["status", "eval", "--json"]);
  assert.equal(byName.code, 0, byName.stderr);
  assert.equal((JSON.parse(byName.stdout) as { id: string }).id, "j-bbb333");
  const byPrefix = await spotrun(home, ["cost", "j-aaa2", "--json"]);
  assert.equal(byPrefix.code, 0, byPrefix.stderr);
  assert.match(byPrefix.stdout, /"j-aaa222"/);
  assert.doesNotMatch(byPrefix.stdout, /"j-aaa111"/);
  const shared = await spotrun(home, ["logs", "j-aaa"]);
  assert.equal(shared.code, 2);
  assert.match(
    shared.stderr,
    /^spotrun: "j-aaa" is the start of the ids of 2 jobs: j-aaa222 \(SUCCEEDED\), j-aaa111 \(FAILED\) — give the job's id\n$/,
  );
});
