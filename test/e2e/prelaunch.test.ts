import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { jobEvents, lastJson, sandbox, spotrun, writeTask } from "../support-cli/spotrun-cli.js";

let box: Awaited<ReturnType<typeof sandbox>>;
before(async () => {
  box = await sandbox("prelaunch");
});
after(async () => box.cleanup());

test("a rebalance recommendation pre-launches the replacement, which the recovery adopts (no second launch)", async () => {
  const task = await writeTask(
    box.work,
    `name: warm
resources: {provider: local, spot: true, market: {interrupt_after: [3s], rebalance_before: 2s, notice: 2s}}
workdir: .
run: python3 trainer.py
envs: {TOTAL_STEPS: 160, CHECKPOINT_EVERY: 5, STEP_SECONDS: 0.05}
recovery: {prelaunch_on_rebalance: true}
`,
  );
  const r = await spotrun(box.home, ["run", task, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const job = lastJson<{ id: string; state: string; attempts: number }>(r.stdout);
  assert.equal(job.state, "SUCCEEDED");
  assert.equal(job.attempts, 2);
  const log = await jobEvents(box.home, job.id);
  const kinds = log.map((e) => e.kind);
  const launched = log.filter((e) => e.kind === "instance_launched");
  const firstEnded = log.findIndex((e) => e.kind === "instance_ended" && e.attempt === 0);
  assert.ok(kinds.indexOf("rebalance") >= 0 && kinds.indexOf("prelaunched") > kinds.indexOf("rebalance"), kinds.join(","));
  assert.ok(kinds.indexOf("prelaunched") < kinds.indexOf("notice"), "the replacement was up before the interruption notice");
  assert.equal(launched.length, 2, "the recovery adopted the spare instead of launching again");
  assert.ok(
    firstEnded > log.indexOf(launched[1] as (typeof log)[number]),
    "the replacement was launched before the old instance ended",
  );
});
