import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { lastJson, sandbox, spotrun, writeTask } from "../support-cli/spotrun-cli.js";

/**
 * Interruption history through the CLI, from a real run: a local spot job interrupted twice (at
 * most 50 of its 150 steps fit between a launch and its stop, notice included, so both land),
 * then `history` shows that pool's instances, instance-hours and preemptions, and `offers --task`
 * ranks that pool by its measured rate once it has as many instance-hours as --min-hours asks.
 */
const H = 3_600_000;

interface Pool {
  id: string;
  instances: number;
  instance_hours: number;
  preemptions: number;
  observed_rate_per_hour: number;
  rate_per_hour: number;
  rate_low_per_hour: number;
  rate_high_per_hour: number;
  risk_source: string;
}
interface Ranked {
  id: string;
  risk_source: string;
  interruption_risk_per_hour: number;
  risk_sample: { instances: number; instance_hours: number; preemptions: number } | null;
}

let box: Awaited<ReturnType<typeof sandbox>>;
before(async () => {
  box = await sandbox("history");
});
after(async () => box.cleanup());

test("history counts a real run's preemptions and instance-hours per pool, and offers ranks with them", async () => {
  const task = await writeTask(
    box.work,
    `name: hist
resources:
  provider: local
  instance_type: local.small
  spot: true
  market: {interrupt_after: [4s, 4s], notice: 1s}
workdir: .
run: python3 trainer.py
envs: {TOTAL_STEPS: 150, CHECKPOINT_EVERY: 10, STEP_SECONDS: 0.1}
checkpoint: {dir: checkpoints}
`,
  );
  const r = await spotrun(box.home, ["run", task, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const job = lastJson<{ id: string; state: string; preemptions: number }>(r.stdout);
  assert.equal(job.state, "SUCCEEDED");
  assert.equal(job.preemptions, 2);

  const list = JSON.parse((await spotrun(box.home, ["list", "--all", "--json"])).stdout) as {
    instances: { launched_at: string; ended_at: string }[];
  };
  const hours = list.instances.reduce((h, i) => h + (Date.parse(i.ended_at) - Date.parse(i.launched_at)) / H, 0);

  const hist = await spotrun(box.home, ["history", "--json"]);
  assert.equal(hist.code, 0, hist.stderr);
  const doc = JSON.parse(hist.stdout) as { min_hours: number; prior: { rate_per_hour: number; hours: number }; pools: Pool[] };
  assert.deepEqual(doc.prior, { rate_per_hour: 0.05, hours: 24 });
  assert.equal(doc.pools.length, 1);
  const pool = doc.pools[0] as Pool;
  assert.equal(pool.id, "local/local/local-1a/local.small/spot");
  assert.equal(pool.instances, list.instances.length);
  assert.equal(pool.preemptions, 2);
  // `list` shows whole seconds: each instance's time there may be a second off.
  const slack = (list.instances.length * 1000) / H + 5e-5;
  assert.ok(Math.abs(pool.instance_hours - hours) < slack, `${pool.instance_hours} h vs ${hours} h from list`);
  assert.ok(Math.abs(pool.rate_per_hour - (0.05 * 24 + 2) / (24 + hours)) < 1e-5);
  assert.ok(pool.rate_low_per_hour < pool.rate_per_hour && pool.rate_per_hour < pool.rate_high_per_hour);
  assert.equal(pool.risk_source, "assumed", "seconds of instance time are not a day's");

  // Filters: another provider has nothing; a window that starts after the run holds nothing.
  const aws = JSON.parse((await spotrun(box.home, ["history", "--provider", "aws", "--json"])).stdout) as { pools: Pool[] };
  assert.deepEqual(aws.pools, []);
  const later = new Date(Date.now() + 60_000).toISOString();
  const none = await spotrun(box.home, ["history", "--since", later]);
  assert.match(none.stdout, /no instances recorded that match/);
  const human = await spotrun(box.home, ["history", "--type", "local.small"]);
  assert.match(
    human.stdout,
    new RegExp(`^local +local +local-1a +local\\.small +spot +${list.instances.length} +0\\.\\d{4} +2 +`, "m"),
  );
  const bad = await spotrun(box.home, ["history", "--min-hours", "-1"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^spotrun: --min-hours: expected a number ≥ 0, got "-1"/);

  // offers: assumed by default (too little time), measured once --min-hours is below what was seen.
  const offers = async (...extra: string[]) => {
    const o = await spotrun(box.home, ["offers", "--task", task, "--json", ...extra]);
    assert.equal(o.code, 0, o.stderr);
    return (JSON.parse(o.stdout) as { offers: Ranked[] }).offers[0] as Ranked;
  };
  const assumed = await offers();
  assert.equal(assumed.risk_source, "assumed");
  assert.equal(assumed.interruption_risk_per_hour, 0.05);
  assert.deepEqual(
    [assumed.risk_sample?.instances, assumed.risk_sample?.preemptions],
    [list.instances.length, 2],
    "the row carries what was seen",
  );
  const minHours = String(hours / 2);
  const measured = await offers("--min-hours", minHours);
  assert.equal(measured.risk_source, "measured");
  assert.ok(Math.abs(measured.interruption_risk_per_hour - pool.rate_per_hour) < 1e-5);
  const table = await spotrun(box.home, ["offers", "--task", task, "--min-hours", minHours]);
  assert.match(table.stdout, /^1 +local\.small\/spot .* 13\.\d% {2,}measured \(n=3, 0\.\d+ h\) +\$/m);
});
