import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { SessionEvents } from "../../../src/sessions/session-events.js";
import { SessionSupervisor } from "../../../src/sessions/session-supervisor.js";
import type { SupervisorSpec } from "../../../src/sessions/supervisor-spec.js";
import { recordStartedAgents, writeVolumeMeta } from "../../../src/sessions/volume.js";
import { writeSnapshot } from "../../../src/sessions/volume-snapshot.js";

const run = promisify(execFile);

interface Line {
  kind: string;
  step?: string;
  ms?: number;
  detail?: string;
  message?: string;
}

async function waitUntil(fn: () => boolean, ms: number, what: string): Promise<void> {
  const until = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe("the session supervisor, with real tmux", () => {
  let root: string;
  let sock: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "spotrun-sup-"));
    sock = join(root, "t.sock");
  });
  after(async () => {
    await run("tmux", ["-S", sock, "kill-server"]).catch(() => {});
    await rm(root, { recursive: true, force: true });
  });

  test("restores a fresh volume from the snapshot, resumes who ran before, saves within the budget", async () => {
    const home = join(root, "home");
    const ck = join(root, "ck");
    const old = join(root, "old-volume");
    const vol = join(root, "volume");
    const out = join(root, "out");
    await Promise.all([home, ck, vol, out].map((d) => mkdir(d, { recursive: true })));
    // What the agent restored into $SPOT_CHECKPOINT_DIR: a snapshot of a volume on which `coder` ran.
    await mkdir(join(old, "home", ".agent-state"), { recursive: true });
    await writeFile(join(old, "home", ".agent-state", "conversation-id"), "conv-42");
    await recordStartedAgents(old, ["coder"]);
    await writeSnapshot(old, ck);
    await writeVolumeMeta(vol, { session: "t", size_bytes: 1024 ** 3, created_at: 0 });

    const spec: SupervisorSpec = {
      version: 1,
      session: "t",
      persist: ["~/.agent-state"],
      agents: [
        {
          name: "coder",
          command: `echo new > ${out}/coder; exec sleep 60`,
          resume_command: `echo "resumed $(cat ${home}/.agent-state/conversation-id)" > ${out}/coder; trap 'echo saved > ${out}/coder-stop; exit 0' TERM; sleep 60 & wait`,
        },
        {
          name: "keyed",
          command: `while read -r l; do [ "$l" = quit ] && { echo bye > ${out}/keyed; exit 0; }; done`,
          stop_keys: ["quit", "Enter"],
        },
        { name: "stubborn", command: `echo up > ${out}/stubborn; trap '' TERM; while true; do sleep 0.05; done` },
      ],
      snapshot_interval_ms: 60_000,
      save_budget_ms: 3_000,
      volume: { kind: "dir", path: vol, size_bytes: 1024 ** 3 },
      tmux: { kind: "path", path: sock },
    };
    const eventsFile = join(home, ".spotrun", "events.jsonl");
    const sup = new SessionSupervisor(spec, { home, checkpointDir: ck, cwd: root }, new SessionEvents(eventsFile));
    const started = await sup.start();
    assert.deepEqual(
      started.map((s) => [s.name, s.resumed]),
      [
        ["coder", true],
        ["keyed", false],
        ["stubborn", false],
      ],
    );
    await waitUntil(() => existsSync(join(out, "coder")) && existsSync(join(out, "stubborn")), 5_000, "agents up");
    assert.equal(readFileSync(join(out, "coder"), "utf8").trim(), "resumed conv-42", "resume_command, with the restored state");
    const { stdout } = await run("tmux", ["-S", sock, "list-windows", "-t", "t", "-F", "#{window_name}"]);
    assert.deepEqual(stdout.trim().split("\n"), ["coder", "keyed", "stubborn"]);

    // Periodic snapshots only when the volume changed.
    await sup.periodic();
    await sup.periodic();
    await writeFile(join(home, ".agent-state", "more"), "x");
    await sup.periodic();

    const t0 = Date.now();
    const report = await sup.save();
    const took = Date.now() - t0;
    assert.ok(took < 3_000 + 250, `save took ${took} ms`);
    assert.ok(report.total_ms <= took);
    assert.deepEqual(
      report.agents.map((a) => [a.name, a.how, a.exited]),
      [
        ["coder", "sigterm", true],
        ["keyed", "keys", true],
        ["stubborn", "sigterm", false],
      ],
      JSON.stringify(report.agents),
    );
    assert.equal(readFileSync(join(out, "coder-stop"), "utf8").trim(), "saved");
    assert.equal(readFileSync(join(out, "keyed"), "utf8").trim(), "bye");
    await assert.rejects(run("tmux", ["-S", sock, "list-sessions"]), "the tmux server is gone");

    const lines = readFileSync(eventsFile, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Line);
    const steps = lines.filter((l) => l.kind === "session_step");
    assert.deepEqual(
      steps.map((s) => s.step),
      [
        "restore",
        "link",
        "agents_started",
        "snapshot",
        "snapshot",
        "stop_agents",
        "flush",
        "snapshot",
        "tmux_exit",
        "save_total",
      ],
      JSON.stringify(steps),
    );
    assert.match(steps[0]?.detail ?? "", /^restored snapshot \(\d+ bytes\)$/);
    assert.match(steps[5]?.detail ?? "", /stubborn: sigterm, killed at the budget/);
    assert.equal(steps.at(-1)?.detail, "budget 3000 ms");

    // The final snapshot holds what the agents left.
    const check = join(root, "check");
    await mkdir(check);
    await run("tar", ["-C", check, "-xf", join(ck, "session.tar")]);
    assert.equal(readFileSync(join(check, "home", ".agent-state", "more"), "utf8"), "x");
  });

  test("warns once when the volume passes 80% of its size", async () => {
    const home = join(root, "home2");
    const ck = join(root, "ck2");
    const vol = join(root, "volume2");
    await Promise.all([home, ck, vol].map((d) => mkdir(d, { recursive: true })));
    const spec: SupervisorSpec = {
      version: 1,
      session: "w",
      persist: ["~/data"],
      agents: [{ name: "a", command: "exec sleep 30" }],
      snapshot_interval_ms: 60_000,
      save_budget_ms: 2_000,
      volume: { kind: "dir", path: vol, size_bytes: 1000 },
      tmux: { kind: "path", path: join(root, "w.sock") },
    };
    const eventsFile = join(home, ".spotrun", "events.jsonl");
    const sup = new SessionSupervisor(spec, { home, checkpointDir: ck, cwd: root }, new SessionEvents(eventsFile));
    try {
      await sup.start();
      await writeFile(join(home, "data", "big"), Buffer.alloc(900));
      await sup.periodic();
      await sup.periodic();
    } finally {
      await sup.save();
    }
    const warnings = readFileSync(eventsFile, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Line)
      .filter((l) => l.kind === "warning");
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]?.message ?? "", /volume \d+% full .*spotrun volume resize w SIZE/);
  });

  test("a notice that leaves less than save_budget shortens the save to fit before the agent stops it", async () => {
    const home = join(root, "home3");
    const ck = join(root, "ck3");
    const vol = join(root, "volume3");
    await Promise.all([home, ck, vol].map((d) => mkdir(d, { recursive: true })));
    const eventsFile = join(home, ".spotrun", "events.jsonl");
    const spec: SupervisorSpec = {
      version: 1,
      session: "n",
      persist: ["~/data"],
      agents: [{ name: "stubborn", command: "trap '' TERM; while true; do sleep 0.05; done" }],
      snapshot_interval_ms: 60_000,
      save_budget_ms: 25_000,
      volume: { kind: "dir", path: vol, size_bytes: 1024 ** 3 },
      tmux: { kind: "path", path: join(root, "n.sock") },
    };
    const events = new SessionEvents(eventsFile);
    const sup = new SessionSupervisor(spec, { home, checkpointDir: ck, cwd: root }, events);
    await sup.start();
    assert.equal(sup.budgetNow(Date.now()), 25_000, "no notice: the whole budget");
    // What the agent writes on a notice, before it SIGTERMs the supervisor: 3 s to the reclaim.
    const now = Date.now();
    await writeFile(
      eventsFile,
      `${JSON.stringify({ at: now, kind: "notice", action: "preempted", time: now + 3_000, source: "gce-metadata", seen_at: now })}\n`,
      { flag: "a" },
    );
    const t0 = Date.now();
    await sup.save();
    const took = Date.now() - t0;
    // The agent stops the supervisor at the deadline less max(200 ms, 25 %) = 2.25 s after the notice.
    assert.ok(took < 2_250, `save took ${took} ms`);
    const total = readFileSync(eventsFile, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Line)
      .find((l) => l.step === "save_total");
    assert.match(total?.detail ?? "", /^budget (19|20)\d\d ms$/);
    assert.ok(existsSync(join(ck, "session.tar")));
  });
});
