import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { SPARE_ATTEMPT } from "../../src/state/schema.js";
import { liveLocalInstances } from "../support-cli/local-instances.js";
import {
  type EventJson,
  jobEvents,
  lastJson,
  sandbox,
  spotrun,
  stepsInLog,
  waitFor,
  writeTask,
} from "../support-cli/spotrun-cli.js";
import { storedInstances } from "../support-cli/store-reader.js";

let box: Awaited<ReturnType<typeof sandbox>>;
before(async () => {
  box = await sandbox("replace-notice");
});
after(async () => box.cleanup());

const at = (log: EventJson[], pred: (e: EventJson) => boolean, what: string): number => {
  const i = log.findIndex(pred);
  assert.ok(i >= 0, `no ${what} in ${log.map((e) => `${e.kind}${e.attempt ?? ""}`).join(",")}`);
  return i;
};

test("on a notice the replacement is launched and set up while the old instance works, then adopted (one launch per attempt)", async () => {
  // The replacement needs 3 s to start and 2 s of setup; the notice gives 20 s, so it is ready
  // long before the deadline less the checkpoint budget, and the old trainer is stopped then.
  const task = await writeTask(
    box.work,
    `name: warm-notice
resources: {provider: local, spot: true, market: {interrupt_after: [4s], notice: 20s, provisioning_delay: 3s}}
workdir: .
setup: sleep 2 && touch setup-ran
run: python3 trainer.py
envs: {TOTAL_STEPS: 400, CHECKPOINT_EVERY: 10, STEP_SECONDS: 0.05}
checkpoint: {dir: checkpoints}
`,
  );
  const r = await spotrun(box.home, ["run", task, "--json"], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  const job = lastJson<{ id: string; state: string; attempts: number; preemptions: number }>(r.stdout);
  assert.equal(job.state, "SUCCEEDED");
  assert.equal(job.attempts, 2);
  assert.equal(job.preemptions, 1);
  const log = await jobEvents(box.home, job.id);
  const launched = log.filter((e) => e.kind === "instance_launched");
  assert.deepEqual(
    launched.map((e) => e.attempt),
    [0, 1],
    "exactly one launch per attempt: the recovery adopted the replacement",
  );
  assert.equal(log.filter((e) => e.kind === "replacement_launched").length, 1);
  assert.equal(log.filter((e) => e.kind === "replacement_abandoned").length, 0);
  const notice = at(log, (e) => e.kind === "notice" && e.attempt === 0, "notice on attempt 0");
  const spareUp = at(log, (e) => e.kind === "replacement_launched" && e.attempt === 1, "replacement_launched");
  const settingUp = at(log, (e) => e.kind === "replacement_setting_up" && e.attempt === 1, "replacement_setting_up");
  const ready = at(log, (e) => e.kind === "replacement_ready" && e.attempt === 1, "replacement_ready");
  const oldEnded = at(log, (e) => e.kind === "attempt_ended" && e.attempt === 0, "attempt 0 ended");
  const oldGone = at(log, (e) => e.kind === "instance_ended" && e.attempt === 0, "attempt 0's instance ended");
  const adopted = at(log, (e) => e.kind === "replacement_adopted" && e.attempt === 1, "replacement_adopted");
  assert.ok(notice < spareUp && spareUp < settingUp && settingUp < ready, "launched, then set up, on the notice");
  assert.ok(ready < oldEnded && settingUp < oldGone, "the replacement was setting up before the old instance was reclaimed");
  assert.ok(oldEnded < adopted, "adopted once the old attempt (and its final upload) ended");
  assert.equal(
    (log[oldEnded] as EventJson).end,
    "preempted",
    "the old attempt ended as the preemption it was (stopped early, not cancelled)",
  );
  // The old trainer kept working after the notice: its final checkpoint came after the replacement was ready.
  const finalUpload = log.findIndex((e, i) => i > ready && e.kind === "checkpoint_uploaded" && e.attempt === 0);
  assert.ok(finalUpload > ready && finalUpload < oldEnded, "the final generation was uploaded after the replacement was ready");
  // Setup ran once on the replacement, and no second time after the go.
  const setups = log.filter((e) => e.kind === "setup_done");
  assert.deepEqual(
    setups.map((e) => e.attempt),
    [0, 1],
  );
  const restored = log.filter((e) => e.kind === "restored" && e.attempt === 1);
  assert.equal(restored.length, 1);
  assert.ok(restored[0]?.generation, "the replacement restored the final generation");
  const steps = await stepsInLog(box.home, job.id);
  assert.deepEqual(
    steps,
    Array.from({ length: 400 }, (_, i) => i + 1),
    "every step once, in order",
  );
});

test("a replacement reclaimed before its go is given up and ended; the old trainer stops by its deadline and the recovery launches afresh", async () => {
  // The replacement (the second spot launch) gets its own notice 1 s after it runs.
  const task = await writeTask(
    box.work,
    `name: spare-reclaimed
resources: {provider: local, spot: true, market: {interrupt_after: [4s, 1s], notice: 20s, provisioning_delay: 3s}}
workdir: .
setup: sleep 2
run: python3 trainer.py
envs: {TOTAL_STEPS: 400, CHECKPOINT_EVERY: 10, STEP_SECONDS: 0.05}
checkpoint: {dir: checkpoints}
`,
    "spare.yaml",
  );
  const since = new Date().toISOString();
  const r = await spotrun(box.home, ["run", task, "--json"], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  const job = lastJson<{ id: string; state: string; attempts: number; preemptions: number }>(r.stdout);
  assert.equal(job.state, "SUCCEEDED");
  assert.equal(job.attempts, 2);
  // The replacement's own reclaim counts as the job's, as an attempt reclaimed in setup does (and
  // as this one would if the recovery had recorded it already): the count does not hang on timing.
  assert.equal(job.preemptions, 2, "the old attempt's and the replacement's reclaim");
  const log = await jobEvents(box.home, job.id);
  const abandoned = log.filter((e) => e.kind === "replacement_abandoned");
  assert.equal(abandoned.length, 1, JSON.stringify(abandoned));
  assert.equal(abandoned[0]?.preempted, true, "given up as reclaimed");
  assert.equal(log.filter((e) => e.kind === "replacement_adopted").length, 0);
  const gaveUp = log.indexOf(abandoned[0] as EventJson);
  const oldEnded = at(log, (e) => e.kind === "attempt_ended" && e.attempt === 0, "attempt 0 ended");
  assert.ok(gaveUp < oldEnded, "given up while the old attempt still ran");
  const launched = log.filter((e) => e.kind === "instance_launched");
  assert.deepEqual(
    launched.map((e) => e.attempt),
    [0, 1],
  );
  const spareIds = (log.find((e) => e.kind === "replacement_launched")?.instance_ids ?? []) as string[];
  assert.ok(
    spareIds.every((id) => !launched.some((e) => e.instance_id === id)),
    "the recovery did not adopt the reclaimed replacement",
  );
  // No attempt took it, but what it ran is in the job's ledger (cost), as a spare's row.
  const spareRows = storedInstances(box.home, job.id).filter((i) => spareIds.includes(i.id));
  assert.deepEqual(
    spareRows.map((i) => [i.attempt, i.end_reason, i.ended_at !== null && i.ended_at > i.launched_at]),
    spareIds.map(() => [SPARE_ATTEMPT, "preempted", true]),
  );
  // The interruption history counts the spare's reclaim as its pool's, beside the old attempt's.
  const hist = await spotrun(box.home, ["history", "--since", since, "--json"]);
  assert.equal(hist.code, 0, hist.stderr);
  const pools = (JSON.parse(hist.stdout) as { pools: { spot: boolean; preemptions: number }[] }).pools;
  assert.deepEqual(
    pools.filter((p) => p.spot).map((p) => p.preemptions),
    [2],
  );
  const listed = await spotrun(box.home, ["list", "--all"]);
  for (const id of spareIds)
    assert.match(listed.stdout, new RegExp(`${id}\\s.*\\sspare\\s`), `list names ${id} a spare, not an attempt`);
  const steps = await stepsInLog(box.home, job.id);
  assert.deepEqual(
    steps,
    Array.from({ length: 400 }, (_, i) => i + 1),
  );
  assert.deepEqual(liveLocalInstances(box.home), [], "nothing left running");
});

test("a job cancelled while its replacement sets up leaves nothing running", async () => {
  const task = await writeTask(
    box.work,
    `name: cancel-warm
resources: {provider: local, spot: true, market: {interrupt_after: [3s], notice: 60s, provisioning_delay: 1s}}
workdir: .
setup: sleep 20
run: python3 trainer.py
envs: {TOTAL_STEPS: 100000, CHECKPOINT_EVERY: 10, STEP_SECONDS: 0.05}
checkpoint: {dir: checkpoints}
`,
    "cancel.yaml",
  );
  // The first attempt's setup is 20 s too: the notice comes 3 s into its run.
  const r = await spotrun(box.home, ["run", task, "--detach", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const { id } = lastJson<{ id: string }>(r.stdout);
  await waitFor(
    async () => ((await jobEvents(box.home, id, ["replacement_setting_up"])).length > 0 ? true : undefined),
    90_000,
    "the replacement setting up",
  );
  assert.equal(liveLocalInstances(box.home, id).length, 2, "the old instance and its replacement");
  const c = await spotrun(box.home, ["cancel", id]);
  assert.equal(c.code, 0, c.stderr);
  await waitFor(async () => (liveLocalInstances(box.home, id).length === 0 ? true : undefined), 30_000, "nothing running");
  const log = await jobEvents(box.home, id);
  assert.equal(log.filter((e) => e.kind === "instance_launched").length, 1, "the replacement was never an attempt's");
});

test("a controller killed while the replacement sets up: the next controller takes it over, it rents no second one", async () => {
  // A 30 s notice: the old trainer would work on until the deadline less its checkpoint budget, so
  // only a controller that knows the replacement stops it sooner.
  const task = await writeTask(
    box.work,
    `name: warm-crash
resources: {provider: local, spot: true, market: {interrupt_after: [4s], notice: 30s, provisioning_delay: 1s}}
workdir: .
setup: sleep 3
run: python3 trainer.py
envs: {TOTAL_STEPS: 300, CHECKPOINT_EVERY: 10, STEP_SECONDS: 0.05}
checkpoint: {dir: checkpoints}
`,
    "warm-crash.yaml",
  );
  const r = await spotrun(box.home, ["run", task, "--detach", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const { id } = lastJson<{ id: string }>(r.stdout);
  const [settingUp] = await waitFor(
    async () => {
      const evs = await jobEvents(box.home, id, ["replacement_setting_up"]);
      return evs.length > 0 ? evs : undefined;
    },
    90_000,
    "the replacement setting up",
  );
  assert.equal(settingUp?.attempt, 1);
  const s = JSON.parse((await spotrun(box.home, ["status", "--all", "--json"])).stdout) as { controller: { pid: number } | null };
  assert.ok(s.controller, "a background controller holds the lease");
  process.kill(s.controller.pid, "SIGKILL");
  // Any command starts the next controller.
  await spotrun(box.home, ["status"]);
  const done = await waitFor(
    async () => {
      const j = JSON.parse((await spotrun(box.home, ["status", id, "--json"])).stdout) as { state: string; preemptions: number };
      return ["SUCCEEDED", "FAILED", "CANCELLED"].includes(j.state) ? j : undefined;
    },
    90_000,
    "the job to finish",
  );
  assert.equal(done.state, "SUCCEEDED");
  assert.equal(done.preemptions, 1);
  const log = await jobEvents(box.home, id);
  const spare = log.find((e) => e.kind === "replacement_launched")?.instance_ids as string[] | undefined;
  const launched = log.filter((e) => e.kind === "instance_launched");
  assert.deepEqual(
    launched.map((e) => [e.attempt, e.instance_id]),
    [
      [0, launched[0]?.instance_id],
      [1, spare?.[0]],
    ],
    "attempt 2 runs on the replacement the killed controller rented, not on a second one",
  );
  assert.deepEqual(
    log.filter((e) => e.kind === "reaped"),
    [],
  );
  assert.equal(log.filter((e) => e.kind === "replacement_adopted").length, 1);
  const stepsDone = await stepsInLog(box.home, id);
  assert.deepEqual(
    stepsDone,
    Array.from({ length: 300 }, (_, i) => i + 1),
    "every step once, in order",
  );
  assert.deepEqual(liveLocalInstances(box.home, id), [], "nothing left running");
});
