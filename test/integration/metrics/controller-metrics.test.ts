import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { metricSum, promtoolProblems } from "../../support-cli/exposition.js";
import { jobEvents, lastJson, sandbox, spawnSpotrun, spotrun, waitFor, writeTask } from "../../support-cli/spotrun-cli.js";

let box: Awaited<ReturnType<typeof sandbox>>;
before(async () => {
  box = await sandbox("metrics");
});
after(async () => box.cleanup());

test("controller run --metrics: the exposition passes promtool, and the counters (the job's and the provider API calls') move as a job is preempted twice", async () => {
  const controller = spawnSpotrun(box.home, ["controller", "run", "--metrics", "127.0.0.1:0"]);
  let stderr = "";
  controller.stderr.on("data", (b: Buffer) => {
    stderr += b.toString();
  });
  try {
    const url = await waitFor(async () => /metrics at (http:\S+)/.exec(stderr)?.[1], 20_000, "the metrics address");
    const scrape = async () => {
      const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
      const text = await res.text();
      assert.equal(promtoolProblems(text), "", "promtool check metrics finds nothing to say");
      return text;
    };
    const empty = await scrape();
    assert.equal(metricSum(empty, "spotrun_preemptions_total"), 0);
    const callsAtStart = metricSum(empty, "spotrun_provider_api_calls_total");
    assert.equal(metricSum(empty, "spotrun_jobs", { state: "RUNNING" }), 0);

    const task = await writeTask(
      box.work,
      `name: scraped
resources: {provider: local, spot: true, market: {interrupt_after: [2s, 2s], notice: 1500ms}}
workdir: .
run: python3 trainer.py
envs: {TOTAL_STEPS: 120, CHECKPOINT_EVERY: 5, STEP_SECONDS: 0.05}
checkpoint: {dir: checkpoints}
recovery: {replace_on_notice: false}
`,
    );
    // Each of the two interrupted instances runs the trainer for under 2 s (the notice falls 2 s after
    // it is up), so 6 s of steps need a third: with 3 s, a quick start of both could finish on the
    // second before its notice (CI saw 1 preemption, not 2).
    // The running controller holds the lease: the job is its to drive.
    const r = await spotrun(box.home, ["run", task, "--detach", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const job = lastJson<{ id: string }>(r.stdout);
    const seen: number[] = [];
    const final = await waitFor(
      async () => {
        const text = await scrape();
        seen.push(metricSum(text, "spotrun_preemptions_total"));
        return metricSum(text, "spotrun_jobs", { state: "SUCCEEDED" }) === 1 ? text : undefined;
      },
      90_000,
      `job ${job.id} to succeed`,
    );
    assert.ok(
      seen.every((n, i) => i === 0 || n >= (seen[i - 1] ?? 0)),
      `the preemption counter only grows: ${seen.join(" ")}`,
    );
    assert.ok(seen.includes(0) || seen.includes(1), `it was scraped before the last preemption: ${seen.join(" ")}`);
    const local = { provider: "local", instance_type: "local.small" };
    assert.equal(metricSum(final, "spotrun_preemptions_total", { ...local, end: "preempted" }), 2);
    assert.equal(metricSum(final, "spotrun_recoveries_total", local), 2);
    assert.equal(metricSum(final, "spotrun_recovery_downtime_seconds_count", local), 2);
    assert.ok(metricSum(final, "spotrun_recovery_downtime_seconds_sum", local) > 0);
    // One latency per notice whose hook's report reached the store before the reclaim took the instance.
    const hooks = await jobEvents(box.home, job.id, ["hook_ran"]);
    assert.ok(hooks.length >= 1);
    assert.equal(metricSum(final, "spotrun_notice_to_hook_seconds_count", { provider: "local" }), hooks.length);
    assert.ok(metricSum(final, "spotrun_checkpoint_bytes_total", { provider: "local" }) > 0);
    // Periodic, on a notice, final: which uploads happen depends on when the notices fall.
    assert.ok(metricSum(final, "spotrun_checkpoint_upload_seconds_count", { provider: "local" }) >= 2);
    // The controller's own provider calls: every launch, describe, list and terminate it sent.
    const calls = (action: string, outcome = "ok") =>
      metricSum(final, "spotrun_provider_api_calls_total", { provider: "local", region: "local", action, outcome });
    // (The classic recovery: a warm replacement would add an adopting launch call per attempt.)
    const launched = await jobEvents(box.home, job.id, ["instance_launched"]);
    assert.equal(calls("launch"), launched.length, "one launch call per instance the job got");
    assert.ok(launched.length >= 3, "three attempts, three instances");
    // The controller lists each provider once per interval for every job (describes only what a listing missed).
    assert.ok(calls("list") > 0 && calls("terminate") > 0);
    assert.ok(metricSum(final, "spotrun_provider_api_calls_total") > callsAtStart, "the counter moved while the job ran");
    assert.equal(metricSum(final, "spotrun_provider_api_throttles_total"), 0);
    assert.equal(
      metricSum(final, "spotrun_provider_api_errors_total"),
      metricSum(final, "spotrun_provider_api_calls_total", { outcome: "error" }),
      "the errors counter is the calls that ended in error",
    );
    const spend = metricSum(final, "spotrun_spend_usd_total", { provider: "local" });
    const baseline = metricSum(final, "spotrun_on_demand_baseline_usd_total", { provider: "local" });
    const cost = JSON.parse((await spotrun(box.home, ["cost", job.id, "--json"])).stdout) as { total: { cost_usd: number } };
    assert.ok(spend > 0 && spend < baseline, `spot spend ${spend} below the on-demand baseline ${baseline}`);
    assert.ok(
      Math.abs(spend - cost.total.cost_usd) < 1e-5,
      `the same ledger as spotrun cost: ${spend} vs ${cost.total.cost_usd}`,
    );
  } finally {
    controller.kill("SIGTERM");
    await new Promise((r) => controller.once("exit", r));
  }
});
