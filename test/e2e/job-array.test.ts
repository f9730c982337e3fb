import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { lastJson, sandbox, spotrun, writeTask } from "../support-cli/spotrun-cli.js";

interface JobJson {
  id: string;
  name: string;
  state: string;
  array_id: string;
  array_index: number;
  current_attempt: { spot: boolean };
  cost_usd: number;
}

let box: Awaited<ReturnType<typeof sandbox>>;
before(async () => {
  box = await sandbox("array");
});
after(async () => box.cleanup());

test("a job array: one job per member with its index, K on spot and the rest on demand, rolled up, costed and cancelled per array", async () => {
  const task = await writeTask(
    box.work,
    'name: sweep\nresources: {provider: local}\nrun: echo "member $SPOT_ARRAY_INDEX of $SPOT_ARRAY_SIZE"\n',
  );
  const r = await spotrun(box.home, ["run", task, "--count", "4", "--spot-count", "3", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const members = lastJson<JobJson[]>(r.stdout);
  assert.equal(members.length, 4);
  const arrayId = members[0]?.array_id as string;
  assert.ok(arrayId.startsWith("arr-") && members.every((m) => m.array_id === arrayId && m.state === "SUCCEEDED"));
  const byIndex = [...members].sort((a, b) => a.array_index - b.array_index);
  assert.deepEqual(
    byIndex.map((m) => m.current_attempt.spot),
    [true, true, true, false],
  );
  for (const m of byIndex) {
    const log = (await spotrun(box.home, ["logs", m.id])).stdout;
    assert.match(log, new RegExp(`member ${m.array_index} of 4`));
  }
  const status = JSON.parse((await spotrun(box.home, ["status", "--all", "--array", arrayId, "--json"])).stdout) as {
    arrays: { id: string; members: number; states: Record<string, number>; cost_usd: number }[];
  };
  assert.deepEqual(status.arrays[0]?.states, { SUCCEEDED: 4 });
  const cost = JSON.parse((await spotrun(box.home, ["cost", arrayId, "--json"])).stdout) as {
    jobs: unknown[];
    total: { cost_usd: number };
  };
  assert.equal(cost.jobs.length, 4);
  assert.ok(Math.abs(cost.total.cost_usd - members.reduce((a, m) => a + m.cost_usd, 0)) < 1e-5);
  // `status ARRAY_ID` and `cost ARRAY_ID` name the same members at the same cost (issue 17 item 15).
  const byArray = await spotrun(box.home, ["status", arrayId, "--json"]);
  assert.equal(byArray.code, 0, byArray.stderr);
  const viewed = JSON.parse(byArray.stdout) as {
    jobs: { id: string; cost_usd: number }[];
    arrays: { id: string; cost_usd: number }[];
  };
  const costed = cost.jobs as { id: string; cost_usd: number }[];
  const byId = (rows: { id: string; cost_usd: number }[]) =>
    Object.fromEntries(rows.map((r) => [r.id, r.cost_usd]).sort(([a], [b]) => String(a).localeCompare(String(b))));
  // The same members at the same cost (to a cent's ten-thousandth: a member's last instance may
  // still be ending, its row closed a moment after the job, between the two commands).
  const near = (a: number, b: number) => Math.abs(a - b) < 1e-5;
  const [fromStatus, fromCost] = [byId(viewed.jobs), byId(costed)];
  assert.deepEqual(Object.keys(fromStatus), Object.keys(fromCost));
  for (const id of Object.keys(fromCost)) assert.ok(near(fromStatus[id] as number, fromCost[id] as number), id);
  assert.deepEqual(
    viewed.arrays.map((a) => a.id),
    [arrayId],
  );
  assert.ok(near(viewed.arrays[0]?.cost_usd ?? Number.NaN, cost.total.cost_usd));

  // A long-running array is cancelled as one.
  const long = await writeTask(box.work, "name: long\nresources: {provider: local}\nrun: sleep 600\n", "long.yaml");
  const d = lastJson<JobJson[]>((await spotrun(box.home, ["run", long, "--count", "3", "--detach", "--json"])).stdout);
  const c = await spotrun(box.home, ["cancel", d[0]?.array_id as string, "--json"]);
  assert.equal(c.code, 0, c.stderr);
  assert.deepEqual(
    (JSON.parse(c.stdout) as { cancelled: { state: string }[] }).cancelled.map((x) => x.state),
    ["CANCELLED", "CANCELLED", "CANCELLED"],
  );
});
