import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { jsonLines, lastJson, leftoverProcesses, sandbox, spotrun, stepsInLog, writeTask } from "../support-cli/spotrun-cli.js";

interface JobJson {
  id: string;
  state: string;
  attempts: number;
  preemptions: number;
  cost_usd: number;
  on_demand_baseline_usd: number;
  savings_usd: number;
}

const trainerTask = (extra: string, steps = 120) => `
name: e2e
resources:
  provider: local
  instance_type: local.small
${extra}
workdir: .
run: python3 trainer.py
envs: {TOTAL_STEPS: ${steps}, CHECKPOINT_EVERY: 10, STEP_SECONDS: 0.05}
checkpoint: {dir: checkpoints}
`;

describe("a managed job on the local provider", () => {
  let box: Awaited<ReturnType<typeof sandbox>>;
  before(async () => {
    box = await sandbox("managed");
  });
  after(async () => box.cleanup());

  test("survives three injected interruptions with every step done once, and reports cost and savings", async () => {
    const task = await writeTask(
      box.work,
      // Each interruption comes 3 s after the instance runs: past its bootstrap (probe, agent by hash, start), so the agent sees it.
      trainerTask("  spot: true\n  market: {interrupt_after: [3s, 3s, 3s], notice: 1500ms}", 200),
    );
    const r = await spotrun(box.home, ["run", task, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const job = lastJson<JobJson>(r.stdout);
    assert.equal(job.state, "SUCCEEDED");
    assert.equal(job.preemptions, 3);
    assert.equal(job.attempts, 4);
    assert.ok(job.cost_usd > 0 && job.savings_usd > 0 && job.cost_usd < job.on_demand_baseline_usd);
    // The stream carried the notices and state changes as JSON lines.
    const kinds = jsonLines(r.stdout).map((l) => (l as { kind?: string }).kind);
    assert.equal(kinds.filter((k) => k === "notice").length, 3);

    const steps = await stepsInLog(box.home, job.id);
    assert.deepEqual(
      steps,
      Array.from({ length: 200 }, (_, i) => i + 1),
      "every step once, in order: none skipped, none repeated",
    );

    const list = JSON.parse((await spotrun(box.home, ["list", "--all", "--json"])).stdout) as {
      instances: { id: string; attempt: number; spot: boolean; ended_at: string | null }[];
    };
    assert.deepEqual(list.instances.map((i) => i.attempt).sort(), [0, 1, 2, 3], "one instance per attempt");
    assert.ok(list.instances.every((i) => i.ended_at !== null && i.spot));
    assert.deepEqual(leftoverProcesses(list.instances.map((i) => i.id)), []);

    const cost = JSON.parse((await spotrun(box.home, ["cost", job.id, "--json"])).stdout) as {
      total: { savings_usd: number; cost_usd: number };
    };
    assert.ok(Math.abs(cost.total.cost_usd - job.cost_usd) < 1e-4);
  });

  test("an invalid task file gets a one-line error naming the file and field, exit 2", async () => {
    const bad = await writeTask(box.work, "run: x\nresources: {provider: local, spot: maybe}\n", "bad.yaml");
    const r = await spotrun(box.home, ["run", bad]);
    assert.equal(r.code, 2);
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0] as string, /^spotrun: .*bad\.yaml: resources\.spot: expected boolean, got string "maybe" — /);
    const unknownType = await writeTask(
      box.work,
      "run: x\nresources: {provider: local, instance_type: local.huge}\n",
      "type.yaml",
    );
    const r2 = await spotrun(box.home, ["run", unknownType]);
    assert.equal(r2.code, 2);
    assert.match(
      r2.stderr,
      /type\.yaml: resources\.instance_type: unknown instance type "local\.huge" for provider local \[UnknownInstanceType\] — use one of local\.small, local\.medium, local\.large/,
    );
    assert.doesNotMatch(r2.stderr, /\n\s+at /, "no stack trace without --debug");
    const missingHook = await writeTask(box.work, "run: x\nworkdir: .\ncheckpoint: {hook: ./save.sh}\n", "hook.yaml");
    const r3 = await spotrun(box.home, ["run", missingHook]);
    assert.equal(r3.code, 2);
    assert.match(r3.stderr, /checkpoint\.hook \.\/save\.sh does not exist/);
    const r4 = await spotrun(box.home, ["run", "nope.yaml"]);
    assert.equal(r4.code, 3);
  });

  test("spot refused: falls back to on-demand when asked; otherwise retried, also on the first attempt, and exit 4 with what to do once recovery.max_launch_failures is spent", async () => {
    const fb = await writeTask(
      box.work,
      trainerTask("  spot: true\n  fallback_on_demand: true\n  market: {refuse_spot: 1}", 10),
      "fb.yaml",
    );
    const r = await spotrun(box.home, ["run", fb, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const kinds = jsonLines(r.stdout).map((l) => (l as { kind?: string }).kind);
    assert.ok(kinds.includes("fallback_on_demand"));
    const job = lastJson<JobJson & { current_attempt: { spot: boolean } }>(r.stdout);
    assert.equal(job.current_attempt.spot, false);
    assert.equal(job.savings_usd, 0);

    // Issue 17 item 16: a first-attempt refusal used to fail the job at once while later ones were retried.
    const no = await writeTask(box.work, trainerTask("  spot: true\n  market: {refuse_spot: 1}", 10), "nofb.yaml");
    const r2 = await spotrun(box.home, ["run", no, "--json"]);
    assert.equal(r2.code, 0, r2.stderr);
    const retried = lastJson<JobJson & { attempts: number }>(r2.stdout);
    assert.equal(retried.state, "SUCCEEDED");
    assert.equal(retried.attempts, 2, "the refused attempt, then one on spot");
    const never = await writeTask(
      box.work,
      `${trainerTask("  spot: true\n  market: {refuse_spot: 1}", 10)}recovery: {max_launch_failures: 0}\n`,
      "never.yaml",
    );
    const r3 = await spotrun(box.home, ["run", never]);
    assert.equal(r3.code, 4, r3.stderr);
    assert.match(r3.stdout, /FAILED/);
    assert.match(r3.stdout, /provider refused: .*set resources\.fallback_on_demand: true/);
  });

  test("a failing run is retried only up to max_restarts_on_errors", async () => {
    const t = await writeTask(
      box.work,
      "name: flaky\nresources: {provider: local}\nrun: echo attempt $SPOT_RESTART_COUNT; exit 3\nrecovery: {max_restarts_on_errors: 1}\n",
      "flaky.yaml",
    );
    const r = await spotrun(box.home, ["run", t, "--json"]);
    assert.equal(r.code, 1);
    const job = lastJson<JobJson & { error_restarts: number; message: string }>(r.stdout);
    assert.equal(job.state, "FAILED");
    assert.equal(job.attempts, 2);
    assert.match(job.message, /exit code 3/);
  });
});
