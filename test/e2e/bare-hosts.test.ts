import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, before, test } from "node:test";
import type { JobId } from "../../src/base/ids.js";
import { agentArtifact } from "../../src/bootstrap/agent-artifact.js";
import { ensureBareRootfs } from "../../src/providers/local/bare-root/bare-rootfs.js";
import type { JobEvent } from "../../src/state/job-event.js";
import { openSqlite } from "../../src/state/open-sqlite.js";
import { StateStore } from "../../src/state/state-store.js";
import { lastJson, sandbox, spotrun, stepsInLog, writeTask } from "../support-cli/spotrun-cli.js";

/**
 * Managed jobs on bare hosts: each instance is a network namespace with its own minimal Debian
 * root (no Node, no spotrun), so everything from "instance running" to "agent running" happens
 * for real — Node obtained, the controller's agent uploaded and checked by hash, then run.
 */
interface JobJson {
  id: JobId;
  state: string;
  attempts: number;
  preemptions: number;
}
type Bootstrapped = Extract<JobEvent, { kind: "bootstrapped" }>;

let box: Awaited<ReturnType<typeof sandbox>>;
// The bare hosts boot from a cached Debian root that a cold machine builds first (minutes;
// scripts/test.sh starts it beside the other tests): wait for it here, not inside a timed step.
before(() => ensureBareRootfs(), { timeout: 900_000 });
before(async () => {
  box = await sandbox("bare");
});
after(async () => {
  await box.cleanup();
});

async function eventsOf(home: string, jobId: JobId): Promise<JobEvent[]> {
  const store = new StateStore(await openSqlite(home));
  try {
    return (await store.events(jobId)).map((e) => ({ kind: e.kind, ...JSON.parse(e.data) }) as JobEvent);
  } finally {
    await store.close();
  }
}

test("two interruptions on bare hosts: every step once, each new instance bootstrapped from nothing", async () => {
  // The classic recovery: "one bootstrap per attempt, each on a new instance" counts attempts, and
  // with replace_on_notice a replacement reclaimed before its go is bootstrapped without being one.
  // (Its preemption count would now hold: such a reclaim is counted, 851caa4.)
  const task = await writeTask(
    box.work,
    `name: bare-interrupted
resources: {provider: local, spot: true, market: {ssh: bare, interrupt_after: [20s, 20s], notice: 2s}}
workdir: .
run: python3 trainer.py
envs: {TOTAL_STEPS: 400, CHECKPOINT_EVERY: 10, STEP_SECONDS: 0.1}
checkpoint: {dir: checkpoints}
recovery: {max_restarts: 4, replace_on_notice: false}
`,
  );
  const r = await spotrun(box.home, ["run", task, "--json"], { timeoutMs: 240_000 });
  assert.equal(r.code, 0, r.stderr);
  const job = lastJson<JobJson>(r.stdout);
  assert.equal(job.state, "SUCCEEDED");
  assert.equal(job.preemptions, 2);
  assert.deepEqual(
    await stepsInLog(box.home, job.id),
    Array.from({ length: 400 }, (_, i) => i + 1),
    "every step once",
  );

  const art = await agentArtifact();
  const boots = (await eventsOf(box.home, job.id)).filter((e): e is Bootstrapped => e.kind === "bootstrapped");
  assert.equal(boots.length, 3, "one bootstrap per attempt");
  assert.equal(new Set(boots.map((b) => b.instance_id)).size, 3, "each on a new instance");
  for (const b of boots) {
    // Nothing was there: Node came from the controller, the agent was uploaded and named by its hash.
    assert.equal(b.node_source, "uploaded", JSON.stringify(b));
    assert.match(b.node_detail ?? "", /the image has no Node/);
    assert.equal(b.node_version, process.version);
    assert.ok(b.node_bytes > 1_000_000);
    assert.equal(b.agent_uploaded, true);
    assert.equal(b.agent_sha256, art.sha256);
    assert.equal(b.agent_bytes, art.bytes);
  }
  const left = execFileSync("ip", ["netns", "list"], { encoding: "utf8" });
  for (const b of boots) assert.ok(!left.includes(`spotrun-${b.instance_id.slice(2, 12)}`), `namespace of ${b.instance_id} left`);
});
