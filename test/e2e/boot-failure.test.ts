import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { jobEvents, lastJson, leftoverProcesses, sandbox, spotrun, stepsInLog, writeTask } from "../support-cli/spotrun-cli.js";

let box: Awaited<ReturnType<typeof sandbox>>;
before(async () => {
  box = await sandbox("boot-failure");
});
after(async () => box.cleanup());

test("an instance that never boots is seen ended and replaced: the job recovers by itself", async () => {
  // The first attempt's instance fails before it is up (as a cloud machine that fails its start);
  // left "pending" it would hold the job in SETTING_UP until the setup timeout.
  const task = await writeTask(
    box.work,
    `name: no-boot
resources: {provider: local, market: {boot_failures: 1}}
workdir: .
run: python3 trainer.py
envs: {TOTAL_STEPS: 20, CHECKPOINT_EVERY: 5, STEP_SECONDS: 0.05}
`,
  );
  const started = Date.now();
  const r = await spotrun(box.home, ["run", task, "--json"], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  const job = lastJson<{ id: string; state: string; attempts: number }>(r.stdout);
  assert.equal(job.state, "SUCCEEDED");
  assert.equal(job.attempts, 2, "one attempt lost to the boot, one that ran");
  // Seen at once (the provider ends the instance when its host fails), not after a setup timeout.
  assert.ok(Date.now() - started < 30_000, `took ${Date.now() - started} ms`);
  const events = await jobEvents(box.home, job.id);
  const firstEnd = events.find((e) => e.kind === "instance_ended" && e.attempt === 0);
  assert.ok(firstEnd, `attempt 0's instance ended: ${events.map((e) => e.kind).join(",")}`);
  assert.deepEqual(
    await stepsInLog(box.home, job.id),
    Array.from({ length: 20 }, (_, i) => i + 1),
  );
  const list = JSON.parse((await spotrun(box.home, ["list", "--all", "--json"])).stdout) as {
    instances: { id: string; attempt: number; ended_at: string | null }[];
  };
  assert.deepEqual(list.instances.map((i) => i.attempt).sort(), [0, 1]);
  assert.ok(list.instances.every((i) => i.ended_at !== null));
  assert.deepEqual(leftoverProcesses(list.instances.map((i) => i.id)), []);
});
