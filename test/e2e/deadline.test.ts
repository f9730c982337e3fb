import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { jobEvents, lastJson, sandbox, spotrun, stepsInLog, writeTask } from "../support-cli/spotrun-cli.js";

let box: Awaited<ReturnType<typeof sandbox>>;
before(async () => {
  box = await sandbox("deadline");
});
after(async () => box.cleanup());

const decisions = async (home: string, job: string) =>
  (await jobEvents(home, job, ["placement_decision"])) as unknown as {
    choice: string;
    rule: string;
    current: string;
    deadline: string;
  }[];

test("strategy deadline: spot while on schedule, on-demand once the slack runs out, every step done", async () => {
  // 10 s of work due in 15 s; every spot instance is interrupted 2 s after it starts, and every
  // launch takes 1 s before the machine runs. Spot alone misses the date whatever the host's speed:
  // at most 2 s of work per instance is 5 restarts of ≥ 1 s on top of the 10 s, plus the first
  // launch. On-demand alone would pay full price. (Without the delay a fast restart left spot
  // enough slack to finish in time, and the test hung on how fast the host was.)
  const task = await writeTask(
    box.work,
    `name: due
resources:
  provider: local
  spot: true
  market: {interrupt_after: [2s, 2s, 2s, 2s, 2s, 2s, 2s, 2s, 2s, 2s, 2s, 2s], notice: 1s, provisioning_delay: 1s}
workdir: .
run: python3 trainer.py
envs: {TOTAL_STEPS: 100, CHECKPOINT_EVERY: 5, STEP_SECONDS: 0.1}
recovery: {strategy: deadline, deadline: 15s, work: 10s, restart_overhead: 2s, decision_interval: 1s, max_restarts: 30}
`,
  );
  const r = await spotrun(box.home, ["run", task, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const job = lastJson<{ id: string; state: string; ended_at: string; current_attempt: { spot: boolean }; savings_usd: number }>(
    r.stdout,
  );
  assert.equal(job.state, "SUCCEEDED");
  const trail = await decisions(box.home, job.id);
  assert.equal(trail[0]?.choice, "spot", "it starts on spot: the deadline leaves slack");
  const switchAt = trail.findIndex((d) => d.choice === "on_demand");
  assert.ok(switchAt > 0, `it moves to on-demand when behind: ${trail.map((d) => `${d.choice}/${d.rule}`).join(", ")}`);
  assert.equal(trail[switchAt]?.rule, "safety-net");
  assert.equal(job.current_attempt.spot, false, "it finishes on on-demand");
  assert.ok(job.savings_usd > 0, "and still pays less than on-demand throughout");
  const deadline = Date.parse(trail[0]?.deadline as string);
  // The policy keeps a restart's worth of slack; measured restart times vary by a second or so under load.
  assert.ok(
    Date.parse(job.ended_at) <= deadline + 3000,
    `finished ${(Date.parse(job.ended_at) - deadline) / 1000}s after the deadline`,
  );
  assert.deepEqual(
    await stepsInLog(box.home, job.id),
    Array.from({ length: 100 }, (_, i) => i + 1),
  );
});

test("strategy deadline needs a deadline and the work: a clear error otherwise", async () => {
  const t = await writeTask(box.work, "run: x\nrecovery: {strategy: deadline}\n", "bad.yaml");
  const r = await spotrun(box.home, ["run", t]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /recovery\.deadline: strategy deadline needs recovery\.deadline .* and recovery\.work/);
});
