import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { sandbox, spotrun } from "../support-cli/spotrun-cli.js";

let box: Awaited<ReturnType<typeof sandbox>>;
before(async () => {
  box = await sandbox("launch");
});
after(async () => box.cleanup());

test("spotrun launch on local: an array of 3 with 2 spot shows up in list --provider, and terminate ends it", async () => {
  const l = await spotrun(box.home, [
    "launch",
    "--provider",
    "local",
    "--instance-type",
    "local.small",
    "--spot",
    "--count",
    "3",
    "--spot-count",
    "2",
    "--job-array-name",
    "demo",
    "--json",
  ]);
  assert.equal(l.code, 0, l.stderr);
  const listed = JSON.parse((await spotrun(box.home, ["list", "--provider", "local", "--json"])).stdout) as {
    instances: { id: string; job_id: string; spot: boolean; price_usd_per_hour: number; ended_at: string | null }[];
  };
  assert.equal(listed.instances.length, 3);
  assert.deepEqual(listed.instances.map((i) => i.spot).sort(), [false, true, true]);
  assert.ok(listed.instances.every((i) => i.job_id === "demo" && i.ended_at === null));
  const human = (await spotrun(box.home, ["list", "--provider", "local"])).stdout;
  assert.match(human, /spot ⚡\s+local\.small\s+local-1a\s+\$0\.03/);
  const t = await spotrun(box.home, ["terminate", "--provider", "local", ...listed.instances.map((i) => i.id)]);
  assert.equal(t.code, 0, t.stderr);
  const after = JSON.parse((await spotrun(box.home, ["list", "--provider", "local", "--json"])).stdout) as {
    instances: unknown[];
  };
  assert.equal(after.instances.length, 0);
});
