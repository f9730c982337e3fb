import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  jobEvents,
  lastJson,
  leftoverProcesses,
  sandbox,
  spotrun,
  stepsInLog,
  waitFor,
  writeTask,
} from "../support-cli/spotrun-cli.js";

interface StatusJson {
  controller: { pid: number } | null;
  jobs: { id: string; state: string; preemptions: number }[];
}
interface JobJson {
  id: string;
  state: string;
  attempts: number;
  preemptions: number;
}

const status = async (home: string) => JSON.parse((await spotrun(home, ["status", "--all", "--json"])).stdout) as StatusJson;
// The event log is the job's history, and `list` the instances: both read without starting a controller.
const events = (home: string, job: string) => jobEvents(home, job);

const instancesOf = async (home: string, job: string, attempt: number): Promise<string[]> =>
  (
    JSON.parse((await spotrun(home, ["list", "--all", "--json"])).stdout) as {
      instances: { id: string; job_id: string; attempt: number }[];
    }
  ).instances
    .filter((i) => i.job_id === job && i.attempt === attempt)
    .map((i) => i.id);

describe("the background controller", () => {
  let box: Awaited<ReturnType<typeof sandbox>>;
  before(async () => {
    box = await sandbox("crash");
  });
  after(async () => box.cleanup());

  test("kill -9 during a recovery: any command restarts it, the job finishes, one instance per attempt, nothing left behind", async () => {
    const task = await writeTask(
      box.work,
      // The classic recovery, which this test was written for: each interrupted instance is an
      // attempt (attempts [0, 1, 2]). With replace_on_notice a replacement reclaimed before its go
      // is a preemption but no attempt; the warm path under kills is the kill -9 harness's and
      // replace-on-notice's "controller killed while the replacement sets up". 8 s of steps, of
      // which each interrupted instance runs under 2 s: the third attempt is always needed.
      `name: crash
resources: {provider: local, instance_type: local.small, spot: true, market: {interrupt_after: [2s, 2s], notice: 1500ms}}
workdir: .
run: python3 trainer.py
envs: {TOTAL_STEPS: 160, CHECKPOINT_EVERY: 5, STEP_SECONDS: 0.05}
recovery: {replace_on_notice: false}
`,
    );
    const r = await spotrun(box.home, ["run", task, "--detach", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const job = lastJson<JobJson>(r.stdout);
    // Wait for the first notice: the recovery is under way from here on.
    const notice = await waitFor(
      async () => (await events(box.home, job.id)).find((e) => e.kind === "notice"),
      30_000,
      "a notice",
    );
    const before = await status(box.home);
    assert.ok(before.controller, "a background controller holds the lease");
    process.kill(before.controller.pid, "SIGKILL");
    // The reclaim happens while no controller is alive to read the instance's last lines (its id is
    // read from the store directly: any spotrun command would start a controller).
    const noticed = await instancesOf(box.home, job.id, notice.attempt as number);
    assert.equal(noticed.length, 1);
    await waitFor(async () => (leftoverProcesses(noticed).length === 0 ? true : undefined), 15_000, "the reclaim");
    // Any command notices the dead controller and starts another.
    await spotrun(box.home, ["list"]);
    await spotrun(box.home, ["status"]);
    const done = await waitFor(
      async () => {
        const s = await status(box.home);
        const j = s.jobs.find((x) => x.id === job.id);
        return j && ["SUCCEEDED", "FAILED"].includes(j.state) ? j : undefined;
      },
      60_000,
      "the job to finish",
    );
    assert.equal(done.state, "SUCCEEDED");
    assert.equal(done.preemptions, 2);
    const after = await status(box.home);
    assert.notEqual(after.controller?.pid, before.controller.pid);

    const list = JSON.parse((await spotrun(box.home, ["list", "--all", "--json"])).stdout) as {
      instances: { id: string; attempt: number }[];
    };
    assert.deepEqual(
      list.instances.map((i) => i.attempt).sort(),
      [0, 1, 2],
      "one instance per attempt: the restarted controller adopted, it did not launch twice",
    );
    await waitFor(
      async () => (leftoverProcesses(list.instances.map((i) => i.id)).length === 0 ? true : undefined),
      10_000,
      "no processes left",
    );
    // The work is all done: the trainer resumed from checkpoints and reached its last step. And no
    // line is missing although no controller was reading when an instance was reclaimed: its agent
    // kept the run log with the checkpoints, and the new controller read the rest from there.
    const log = (await spotrun(box.home, ["logs", job.id])).stdout;
    assert.match(log, /done: 160 steps/);
    assert.deepEqual(
      [...new Set(await stepsInLog(box.home, job.id))].sort((a, b) => a - b),
      Array.from({ length: 160 }, (_, k) => k + 1),
      "every step's line, including those printed while no controller was alive",
    );
    const starts = [...log.matchAll(/start at step (\d+)/g)].map((m) => Number(m[1]));
    assert.ok(starts.length >= 2 && starts.at(-1)! > 0, `the last attempt resumed from a checkpoint: ${starts}`);
  });

  test("cancel tears a running job down and keeps its checkpoints", async () => {
    const task = await writeTask(
      box.work,
      "name: long\nresources: {provider: local}\nworkdir: .\nrun: python3 trainer.py\nenvs: {TOTAL_STEPS: 100000, CHECKPOINT_EVERY: 5, STEP_SECONDS: 0.05}\n",
      "long.yaml",
    );
    const job = lastJson<JobJson>((await spotrun(box.home, ["run", task, "--detach", "--json"])).stdout);
    await waitFor(
      async () => ((await events(box.home, job.id)).some((e) => e.kind === "checkpoint_uploaded") ? true : undefined),
      30_000,
      "a checkpoint",
    );
    const c = await spotrun(box.home, ["cancel", job.id, "--json"]);
    assert.equal(c.code, 0, c.stderr);
    assert.deepEqual(JSON.parse(c.stdout).cancelled, [{ id: job.id, state: "CANCELLED" }]);
    const list = JSON.parse((await spotrun(box.home, ["list", "--all", "--json"])).stdout) as {
      instances: { id: string; job_id: string; ended_at: string | null }[];
    };
    const mine = list.instances.filter((i) => i.job_id === job.id);
    assert.ok(mine.length === 1 && mine[0]?.ended_at);
    await waitFor(
      async () => (leftoverProcesses(mine.map((i) => i.id)).length === 0 ? true : undefined),
      10_000,
      "no processes left",
    );
    const v = JSON.parse((await spotrun(box.home, ["status", job.id, "--json"])).stdout) as { checkpoint_store: string };
    const gens = await import("node:fs/promises").then((fs) => fs.readdir(new URL(v.checkpoint_store)));
    assert.ok(gens.length >= 1);
  });

  test("budget: warns at 80%, then stops with a final checkpoint (OVER_BUDGET)", async () => {
    // local.large costs $1.50/h on demand: $0.0025 is six seconds.
    const task = await writeTask(
      box.work,
      "name: budget\nresources: {provider: local, instance_type: local.large, spot: false}\nworkdir: .\nrun: python3 trainer.py\nenvs: {TOTAL_STEPS: 100000, CHECKPOINT_EVERY: 1000, STEP_SECONDS: 0.01}\nbudget: {max_cost: 0.0025}\n",
      "budget.yaml",
    );
    const r = await spotrun(box.home, ["run", task, "--json"]);
    assert.equal(r.code, 1);
    const job = lastJson<JobJson & { cost_usd: number }>(r.stdout);
    assert.equal(job.state, "OVER_BUDGET");
    const kinds = (await events(box.home, job.id)).map((e) => e.kind);
    assert.ok(kinds.indexOf("budget_warning") >= 0 && kinds.indexOf("budget_warning") < kinds.indexOf("budget_exceeded"));
    const uploads = (await events(box.home, job.id)).filter((e) => e.kind === "checkpoint_uploaded").map((e) => e.reason);
    assert.ok(uploads.includes("stop"), `a final checkpoint was uploaded: ${uploads}`);
    assert.ok(job.cost_usd < 0.0025 * 1.6, `overspend stays small: ${job.cost_usd}`);
  });

  test("the hook gets INTERRUPTION_TIME and ACTION; the restart gets the env contract and --resume", async () => {
    await writeTask(
      box.work,
      `#!/usr/bin/env bash
echo "hook $INTERRUPTION_ACTION $INTERRUPTION_TIME $SPOT_JOB_ID" >> "$SPOT_CHECKPOINT_DIR/hooks.log"
`,
      "save.sh",
    );
    await import("node:fs/promises").then((fs) => fs.chmod(join(box.work, "save.sh"), 0o755));
    await writeTask(
      box.work,
      `import os, sys, time
d = os.environ["SPOT_CHECKPOINT_DIR"]
os.makedirs(d, exist_ok=True)
keys = ["SPOT_IS_RESTART", "SPOT_RESTART_COUNT", "SPOT_RESUME_FROM", "SPOT_WORKER_ID", "SPOT_NUM_WORKERS", "SPOT_JOB_ID"]
print("ENV " + " ".join(f"{k}={os.environ.get(k, '')}" for k in keys) + " ARGS " + " ".join(sys.argv[1:]), flush=True)
if os.environ["SPOT_IS_RESTART"] == "true":
    print("HOOKS " + open(os.path.join(d, "hooks.log")).read().strip(), flush=True)
    sys.exit(0)
open(os.path.join(d, "marker"), "w").write("x")
time.sleep(60)
`,
      "envcheck.py",
    );
    const task = await writeTask(
      box.work,
      `name: hook
resources: {provider: local, spot: true, market: {interrupt_after: [2s], notice: 2s}}
workdir: .
run: python3 envcheck.py
checkpoint: {hook: ./save.sh, resume_arg: --resume}
`,
      "hook.yaml",
    );
    const r = await spotrun(box.home, ["run", task, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const job = lastJson<JobJson>(r.stdout);
    const log = (await spotrun(box.home, ["logs", job.id])).stdout;
    assert.match(
      log,
      new RegExp(
        `ENV SPOT_IS_RESTART=false SPOT_RESTART_COUNT=0 SPOT_RESUME_FROM= SPOT_WORKER_ID=0 SPOT_NUM_WORKERS=1 SPOT_JOB_ID=${job.id} ARGS \\n`,
      ),
    );
    assert.match(
      log,
      /ENV SPOT_IS_RESTART=true SPOT_RESTART_COUNT=1 SPOT_RESUME_FROM=g-000000-\d+ .* ARGS --resume \/\S+\/checkpoints/,
    );
    assert.match(log, new RegExp(`HOOKS hook terminate \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d.\\d{3}Z ${job.id}`));
    void readFile;
  });
});
