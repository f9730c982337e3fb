import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { lastJson, sandbox, spotrun, writeTask } from "../support-cli/spotrun-cli.js";

let box: Awaited<ReturnType<typeof sandbox>>;
before(async () => {
  box = await sandbox("setupfail");
});
after(async () => box.cleanup());

test("setup runs on every node; a failure on one node is reported as that node's, and ends the attempt on all", async () => {
  const task = await writeTask(
    box.work,
    `name: two
resources: {provider: local}
num_nodes: 2
setup: if [ "$SPOT_WORKER_ID" = 1 ]; then echo "node 1 cannot install"; exit 7; fi
run: sleep 60
`,
  );
  const r = await spotrun(box.home, ["run", task, "--json"]);
  assert.equal(r.code, 1, r.stderr);
  const job = lastJson<{ state: string; message: string }>(r.stdout);
  assert.equal(job.state, "FAILED");
  assert.match(job.message, /setup failed \(node 1 \(i-[0-9a-f]+\): setup ended with exit code 7\)/);
  const list = JSON.parse((await spotrun(box.home, ["list", "--all", "--json"])).stdout) as {
    instances: { ended_at: string | null }[];
  };
  assert.equal(list.instances.length, 2);
  assert.ok(
    list.instances.every((i) => i.ended_at !== null),
    "both nodes torn down",
  );
});
