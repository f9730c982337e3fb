import assert from "node:assert/strict";
import { cp } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { JobId } from "../../src/base/ids.js";
import { ensureBareRootfs } from "../../src/providers/local/bare-root/bare-rootfs.js";
import type { JobEvent } from "../../src/state/job-event.js";
import { openSqlite } from "../../src/state/open-sqlite.js";
import { StateStore } from "../../src/state/state-store.js";
import { repoRoot, sandbox, spotrun, waitFor, writeTask } from "../support-cli/spotrun-cli.js";

/**
 * Managed jobs on bare hosts: each instance is a network namespace with its own minimal Debian
 * root (no Node, no spotrun), so everything from "instance running" to "agent running" happens
 * for real — Node obtained, the controller's agent uploaded and checked by hash, then run.
 */

let box: Awaited<ReturnType<typeof sandbox>>;
// The bare hosts boot from a cached Debian root that a cold machine builds first (minutes;
// scripts/test.sh starts it beside the other tests): wait for it here, not inside a timed step.
before(() => ensureBareRootfs(), { timeout: 900_000 });
before(async () => {
  box = await sandbox("bare-session");
});
after(async () => {
  await box.cleanup();
});

async function _eventsOf(home: string, jobId: JobId): Promise<JobEvent[]> {
  const store = new StateStore(await openSqlite(home));
  try {
    return (await store.events(jobId)).map((e) => ({ kind: e.kind, ...JSON.parse(e.data) }) as JobEvent);
  } finally {
    await store.close();
  }
}

test("a session with one agent on bare hosts survives an interruption: the agent resumes on the new instance", async () => {
  await cp(join(repoRoot, "examples", "sessions", "agent.sh"), join(box.work, "agent.sh"));
  await writeTask(
    box.work,
    `resources:
  provider: local
  spot: true
  market: {ssh: bare, interrupt_after: [25s], notice: 3s}
workdir: .
persist: [~/.agent-state]
agents:
  - {name: coder, command: ./agent.sh, resume_command: ./agent.sh --resume}
envs: {AGENT_STEP_SECONDS: 0.2}
snapshot_interval: 1s
save_budget: 20s
volume: {size: 1GB}
`,
    "session.yaml",
  );
  interface SessionJson {
    name: string;
    state: string;
    instance_id: string | null;
    interruptions: number;
  }
  const session = async () =>
    (JSON.parse((await spotrun(box.home, ["session", "list", "--json"])).stdout) as { sessions: SessionJson[] }).sessions.find(
      (x) => x.name === "bare",
    );
  try {
    const start = await spotrun(box.home, ["session", "start", "bare", "--task", join(box.work, "session.yaml"), "--json"]);
    assert.equal(start.code, 0, start.stderr);
    const first = await waitFor(
      async () => ((await session())?.state === "running" ? await session() : undefined),
      90_000,
      "running",
    );
    const again = await waitFor(
      async () => {
        const x = await session();
        return x?.state === "running" && x.instance_id !== first.instance_id && x.interruptions === 1 ? x : undefined;
      },
      120_000,
      "the session running on a new instance after the reclaim",
    );
    assert.ok(again.instance_id);
    const screen = await waitFor(
      async () => {
        const r = await spotrun(box.home, ["session", "logs", "bare", "--agent", "coder", "--json"]);
        const text = r.code === 0 ? (JSON.parse(r.stdout) as { screen: string }).screen : "";
        return /\(resumed\)/.test(text) && /working \d+/.test(text) ? text : undefined;
      },
      30_000,
      "the coder's resumed conversation on the new instance",
    );
    assert.match(screen, /conversation conv-coder-\d+ \(resumed\)/);
  } finally {
    await spotrun(box.home, ["session", "stop", "bare"], { timeoutMs: 60_000 });
    await spotrun(box.home, ["session", "destroy", "bare", "--yes"], { timeoutMs: 30_000 });
  }
});
