import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { jobEvents, lastJson, sandbox, spotrun, writeTask } from "../support-cli/spotrun-cli.js";

let box: Awaited<ReturnType<typeof sandbox>>;
before(async () => {
  box = await sandbox("failover");
});
after(async () => box.cleanup());

const events = (home: string, job: string) => jobEvents(home, job);

test("recovery.strategy failover walks the ranked offers: a refused pool is skipped, a preempted pool is blocked", async () => {
  // The market refuses the first spot launch (the cheapest pool, local.small) and interrupts the
  // next spot instance: failover moves to local.medium, and after its preemption (medium now
  // blocked) back to local.small once that pool's block has run out — never to a blocked pool.
  const task = await writeTask(
    box.work,
    `name: walk
resources:
  provider: local
  instance_types: [local.small, local.medium]
  spot: true
  market: {refuse_spot: 1, interrupt_after: [0s, 1500ms], notice: 1s}
recovery: {strategy: failover, block_zone_for: 3s}
run: sleep 3
`,
  );
  const r = await spotrun(box.home, ["run", task, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const job = lastJson<{ id: string; state: string; attempts: number }>(r.stdout);
  assert.equal(job.state, "SUCCEEDED");
  const launched = (await events(box.home, job.id)).filter((e) => e.kind === "instance_launched" || e.kind === "launch_refused");
  const list = JSON.parse((await spotrun(box.home, ["list", "--all", "--json"])).stdout) as {
    instances: { attempt: number; instance_type: string; spot: boolean }[];
  };
  const byAttempt = list.instances
    .sort((a, b) => a.attempt - b.attempt)
    .map((i) => `${i.spot ? "spot" : "od"} ${i.instance_type}`);
  assert.equal(launched[0]?.kind, "launch_refused", "the first (cheapest) spot pool was refused");
  assert.deepEqual(byAttempt, ["spot local.medium", "spot local.small"]);
  const preempted = (await events(box.home, job.id)).find((e) => e.kind === "attempt_ended" && e.end === "preempted");
  assert.ok(preempted, "the medium instance was preempted");
});
