import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { cp, rm } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { leftoverProcesses, repoRoot, sandbox, spotrun, waitFor, writeTask } from "../support-cli/spotrun-cli.js";

const run = promisify(execFile);

/**
 * Snapshots belong to the session (issue 17 item 12): its jobs write them under the session's
 * `store`, and `session resume` restores the newest one even when the new instance's disk starts
 * empty, as on AWS or Vast where the volume is the instance's own disk. On local the volume is a
 * directory outside every instance; deleting it between stop and resume stands for that disk.
 */
interface SessionJson {
  name: string;
  state: string;
  job_id: string | null;
  instance_id: string | null;
}
interface StepJson {
  job_id: string;
  step: string;
  detail?: string;
}

let box: Awaited<ReturnType<typeof sandbox>>;
let storeDir: string;
const vol = () => join(box.home, "volumes", "keep");
const stateFile = (f: string) => join(vol(), "home", ".agent-state", "coder", f);
const lines = (p: string) => (existsSync(p) ? readFileSync(p, "utf8").split("\n").filter(Boolean) : []);

before(async () => {
  box = await sandbox("session-store");
  storeDir = join(box.work, "..", "snapshots");
  await cp(join(repoRoot, "examples", "sessions", "agent.sh"), join(box.work, "agent.sh"));
  await writeTask(
    box.work,
    `resources: {provider: local, instance_type: local.small, spot: true}
workdir: .
store: ${pathToFileURL(storeDir).href}
persist: [~/.agent-state, ~/workspaces]
agents:
  - {name: coder, command: ./agent.sh, resume_command: ./agent.sh --resume}
envs: {AGENT_STEP_SECONDS: 0.1}
snapshot_interval: 1s
volume: {size: 1GB}
`,
    "session.yaml",
  );
});
after(async () => {
  await spotrun(box.home, ["session", "destroy", "keep", "--yes"], { timeoutMs: 60_000 });
  await run("tmux", ["-S", join(box.home, "sessions", "keep", "tmux.sock"), "kill-server"]).catch(() => {});
  await box.cleanup();
});

const session = async () => {
  const r = await spotrun(box.home, ["session", "list", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { sessions: SessionJson[] }).sessions.find((s) => s.name === "keep");
};
const steps = async () => {
  const r = await spotrun(box.home, ["session", "logs", "keep", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { steps: StepJson[] }).steps;
};
/** The generations each job of the session left under `<store>/sessions/keep/<job>/`. */
const generations = (job: string) =>
  existsSync(join(storeDir, "sessions", "keep", job))
    ? readdirSync(join(storeDir, "sessions", "keep", job)).filter((g) => g.startsWith("g-"))
    : [];

test("stop, lose the volume, resume: the agent comes back from the session's snapshot in its store", async () => {
  const start = await spotrun(box.home, ["session", "start", "keep", "--task", join(box.work, "session.yaml"), "--json"]);
  assert.equal(start.code, 0, start.stderr);
  const first = await waitFor(
    async () => {
      const s = await session();
      return s?.state === "running" && lines(stateFile("history")).length >= 1 ? s : undefined;
    },
    // A bound, not a speed: a loaded CI machine takes longer to boot the session's instance.
    90_000,
    "the coder working",
  );
  const firstJob = first.job_id as string;
  const conv = readFileSync(stateFile("conversation-id"), "utf8").trim();

  const stop = await spotrun(box.home, ["session", "stop", "keep", "--json"]);
  assert.equal(stop.code, 0, stop.stderr);
  assert.equal((JSON.parse(stop.stdout) as { stop: string }).stop, "saved");
  assert.ok(generations(firstJob).length >= 1, "the final snapshot went to the session's store");
  assert.equal(lines(stateFile("history")).at(-1), `stopped ${conv}`);

  // The new instance's disk is empty: only the session's snapshot can bring the coder back.
  await rm(vol(), { recursive: true, force: true });
  const resume = await spotrun(box.home, ["session", "resume", "keep", "--json"]);
  assert.equal(resume.code, 0, resume.stderr);
  const back = await waitFor(
    async () => {
      const s = await session();
      return s?.state === "running" && lines(stateFile("history")).includes(`resumed ${conv}`) ? s : undefined;
    },
    30_000,
    "the coder resumed from the snapshot",
  );
  assert.notEqual(back.job_id, firstJob, "a resume is a new job of the session");
  assert.equal(readFileSync(stateFile("conversation-id"), "utf8").trim(), conv, "the same conversation");
  assert.deepEqual(lines(stateFile("history")), [`started ${conv}`, `stopped ${conv}`, `resumed ${conv}`]);
  const restore = (await steps()).filter((s) => s.step === "restore");
  assert.deepEqual(
    restore.map((s) => [s.job_id, /^restored snapshot \(\d+ bytes\)$/.test(s.detail ?? "") ? "restored" : s.detail]),
    [
      [firstJob, "new volume, no snapshot"],
      [back.job_id, "restored"],
    ],
  );
  const started = (await steps()).filter((s) => s.step === "agents_started").map((s) => s.detail);
  assert.deepEqual(started, ["coder (new)", "coder (resumed)"]);

  const stopAgain = await spotrun(box.home, ["session", "stop", "keep", "--json"]);
  assert.equal(stopAgain.code, 0, stopAgain.stderr);
  assert.ok(generations(back.job_id as string).length >= 1, "the resumed job saves into the same session store");
  await waitFor(
    async () => (leftoverProcesses([back.instance_id as string]).length === 0 ? true : undefined),
    15_000,
    "the instance gone after the stop",
  );
});
