import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { jobEvents, lastJson, sandbox, spotrun, writeTask } from "../support-cli/spotrun-cli.js";

let box: Awaited<ReturnType<typeof sandbox>>;
before(async () => {
  box = await sandbox("budget-hourly");
});
after(async () => box.cleanup());

// Issue 17 item 9: with max_hourly 0.01 and a $0.03/h offer the job launched anyway, then ended
// "OVER_BUDGET: budget of $undefined reached".
test("budget.max_hourly below every offer: nothing is rented, and the job says which offer and what to do", async () => {
  const task = await writeTask(
    box.work,
    "name: cheap\nresources: {provider: local, instance_type: local.small, spot: true}\nrun: echo hi\nbudget: {max_hourly: 0.01}\n",
  );
  const r = await spotrun(box.home, ["run", task, "--json"]);
  const job = lastJson<{ id: string; state: string; message: string }>(r.stdout);
  assert.equal(job.state, "OVER_BUDGET", r.stderr);
  assert.match(
    job.message,
    /^budget\.max_hourly \$0\.01 is below the cheapest spot offer, \$0\.0300\/h \(local\.small\) — raise budget\.max_hourly/,
  );
  assert.doesNotMatch(job.message, /undefined/);
  assert.deepEqual(await jobEvents(box.home, job.id, ["instance_launched", "attempt_started"]), [], "nothing was launched");
});

test("budget.max_hourly above the offer: the job runs", async () => {
  const task = await writeTask(
    box.work,
    "name: fine\nresources: {provider: local, instance_type: local.small, spot: true}\nrun: echo hi\nbudget: {max_hourly: 0.05}\n",
    "fine.yaml",
  );
  const r = await spotrun(box.home, ["run", task, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(lastJson<{ state: string }>(r.stdout).state, "SUCCEEDED");
});
