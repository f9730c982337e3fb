import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { cp, mkdir, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { bin, lastJson, leftoverProcesses, repoRoot, sandbox, spotrun, waitFor, writeTask } from "../support-cli/spotrun-cli.js";

const run = promisify(execFile);

interface SessionJson {
  name: string;
  state: string;
  job_id: string | null;
  instance_id: string | null;
  interruptions: number;
  away_seconds: number | null;
  uptime_seconds: number;
  cost_usd: number;
}
interface StepJson {
  job_id: string;
  at: string;
  attempt: number;
  step: string;
  ms: number;
  detail?: string;
}

const AGENTS = ["coder", "reviewer"] as const;

function processesNaming(path: string): number[] {
  return readdirSync("/proc").flatMap((name) => {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) return [];
    try {
      return readFileSync(`/proc/${name}/cmdline`, "utf8").includes(path) ? [Number(name)] : [];
    } catch {
      return [];
    }
  });
}

const sessionYaml = `
resources:
  provider: local
  instance_type: local.small
  spot: true
workdir: .
persist: [~/.agent-state, ~/workspaces]
agents:
  - {name: coder, command: ./agent.sh, resume_command: ./agent.sh --resume}
  - {name: reviewer, command: ./agent.sh, resume_command: ./agent.sh --resume}
envs: {AGENT_STEP_SECONDS: 0.1}
snapshot_interval: 1s
save_budget: 25s
volume: {size: 1GB}
`;

describe("a persistent session on the local provider, with real tmux", () => {
  let box: Awaited<ReturnType<typeof sandbox>>;
  let outerSocket: string;
  const vol = () => join(box.home, "volumes", "demo");
  const sock = () => join(box.home, "sessions", "demo", "tmux.sock");
  const stateFile = (agent: string, f: string) => join(vol(), "home", ".agent-state", agent, f);
  const notes = (agent: string) => join(vol(), "home", "workspaces", agent, "notes.txt");
  const lines = (p: string) => (existsSync(p) ? readFileSync(p, "utf8").split("\n").filter(Boolean) : []);
  const list = async () => {
    const r = await spotrun(box.home, ["session", "list", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as { sessions: SessionJson[] }).sessions;
  };
  const demo = async () => (await list()).find((s) => s.name === "demo");
  const steps = async () => {
    const r = await spotrun(box.home, ["session", "logs", "demo", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as { steps: StepJson[] }).steps;
  };
  const windows = async () => {
    const { stdout } = await run("tmux", ["-S", sock(), "list-panes", "-s", "-t", "demo", "-F", "#{window_name} #{pane_pid}"]);
    return stdout
      .trim()
      .split("\n")
      .map((l) => l.split(" "))
      .map(([name, pid]) => ({ name: name as string, pid: Number(pid) }));
  };
  const instanceOf = (pid: number) =>
    /SPOTRUN_LOCAL_INSTANCE=([^\0]+)/.exec(readFileSync(`/proc/${pid}/environ`, "utf8"))?.[1] ?? null;

  before(async () => {
    box = await sandbox("session");
    outerSocket = join(box.work, "..", "outer.sock");
    await cp(join(repoRoot, "examples", "sessions", "agent.sh"), join(box.work, "agent.sh"));
    await writeTask(box.work, sessionYaml, "session.yaml");
  });
  after(async () => {
    await run("tmux", ["-S", outerSocket, "kill-server"]).catch(() => {});
    await run("tmux", ["-S", sock(), "kill-server"]).catch(() => {});
    const root = join(box.home, "..");
    await box.cleanup();
    // Local instance hosts carry the controller's HOME, not the sandbox's: find them by their command line.
    for (const pid of processesNaming(root)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
    }
  });

  test("both agents come back by name after a preemption, files intact, resumed, saved inside the 25 s budget", async () => {
    const start = await spotrun(box.home, ["session", "start", "demo", "--task", join(box.work, "session.yaml"), "--json"]);
    assert.equal(start.code, 0, start.stderr);
    assert.equal(lastJson<SessionJson>(start.stdout).name, "demo");

    const first = await waitFor(
      async () => {
        const s = await demo();
        return s?.state === "running" && AGENTS.every((a) => lines(notes(a)).length >= 3) ? s : undefined;
      },
      20_000,
      "both agents working",
    );
    const oldInstance = first.instance_id as string;
    assert.ok(oldInstance);
    // The persisted paths are symlinks from the instance's HOME into the volume, which lies outside it.
    const disk = join(box.home, "local", "instances", oldInstance, "disk");
    assert.ok(lstatSync(join(disk, ".agent-state")).isSymbolicLink());
    assert.equal(readlinkSync(join(disk, "workspaces")), join(vol(), "home", "workspaces"));
    const conv = Object.fromEntries(AGENTS.map((a) => [a, readFileSync(stateFile(a, "conversation-id"), "utf8").trim()]));
    for (const a of AGENTS) assert.match(conv[a] as string, new RegExp(`^conv-${a}-\\d+$`));
    assert.deepEqual(
      (await windows()).map((w) => w.name),
      [...AGENTS],
    );

    const chaos = await spotrun(box.home, ["chaos", "interrupt", oldInstance, "--notice", "10s"]);
    assert.equal(chaos.code, 0, chaos.stderr);

    const back = await waitFor(
      async () => {
        const s = await demo();
        return s?.state === "running" &&
          s.instance_id !== oldInstance &&
          AGENTS.every((a) => lines(stateFile(a, "history")).length >= 3)
          ? s
          : undefined;
      },
      30_000,
      "the session back on a new instance",
    );
    assert.equal(back.interruptions, 1);
    assert.ok(back.away_seconds !== null && back.away_seconds < 30, `away ${back.away_seconds}s`);
    const human = await spotrun(box.home, ["session", "list"]);
    assert.match(human.stdout, /demo\s+running\s+i-\S+\s+\S+\s+1\s+\$\S+\s+away for \d+s after a recovery/);

    // Same windows, by name, now run by processes of the new instance.
    const wins = await windows();
    assert.deepEqual(
      wins.map((w) => w.name),
      [...AGENTS],
    );
    for (const w of wins) assert.equal(instanceOf(w.pid), back.instance_id, `${w.name} runs on the new instance`);

    for (const a of AGENTS) {
      assert.equal(readFileSync(stateFile(a, "conversation-id"), "utf8").trim(), conv[a], `${a} kept its conversation`);
      assert.deepEqual(lines(stateFile(a, "history")), [`started ${conv[a]}`, `stopped ${conv[a]}`, `resumed ${conv[a]}`]);
    }
    const before = Object.fromEntries(AGENTS.map((a) => [a, lines(notes(a)).length]));
    await waitFor(
      async () => (AGENTS.every((a) => lines(notes(a)).length > (before[a] as number) + 2) ? true : undefined),
      10_000,
      "agents writing again",
    );
    for (const a of AGENTS) {
      const l = lines(notes(a));
      assert.equal(l[0], `${conv[a]} line 1`, "the notes from before the preemption are intact");
      assert.ok(l.every((x) => x.startsWith(`${conv[a]} line `)));
    }

    // The save, step by step, from the event log.
    const all = await steps();
    const save = all.filter(
      (s) => s.attempt === 0 && ["stop_agents", "flush", "snapshot", "tmux_exit", "save_total"].includes(s.step),
    );
    const finalSteps = save.filter((s) => s.step !== "snapshot" || /^final/.test(s.detail ?? ""));
    assert.deepEqual(
      finalSteps.map((s) => s.step),
      ["stop_agents", "flush", "snapshot", "tmux_exit", "save_total"],
    );
    const total = finalSteps.find((s) => s.step === "save_total") as StepJson;
    assert.ok(total.ms < 25_000, `save took ${total.ms} ms, budget 25000`);
    const stopStep = finalSteps[0] as StepJson;
    const span = Date.parse(total.at) - (Date.parse(stopStep.at) - stopStep.ms);
    assert.ok(span <= 25_000 + 1000, `save steps span ${span} ms`);
    assert.match(stopStep.detail ?? "", /coder: sigterm, exited in \d+ ms; reviewer: sigterm, exited in \d+ ms/);
    const started = all.filter((s) => s.step === "agents_started").map((s) => [s.attempt, s.detail]);
    assert.deepEqual(started, [
      [0, "coder (new), reviewer (new)"],
      [1, "coder (resumed), reviewer (resumed)"],
    ]);
    await waitFor(async () => (leftoverProcesses([oldInstance]).length === 0 ? true : undefined), 15_000, "old instance gone");
  });

  test("`session attach` drives the real tmux after the recovery, with the same command", async () => {
    const conv = readFileSync(stateFile("reviewer", "conversation-id"), "utf8").trim();
    // A person's terminal: a pane of another tmux server, running the attach command.
    const attach = `env -u TMUX ${process.execPath} ${bin} --home ${box.home} session attach demo reviewer; echo attach-exit-$?; sleep 30`;
    await run("tmux", ["-S", outerSocket, "-f", "/dev/null", "new-session", "-d", "-s", "me", "-x", "150", "-y", "40", attach]);
    let last = "";
    const screen = await waitFor(
      async () => {
        const { stdout } = await run("tmux", ["-S", outerSocket, "capture-pane", "-p", "-t", "me"]);
        last = stdout;
        // The reviewer's window, active in the session's status line, with its agent at work.
        return /reviewer\*/.test(stdout) && /working \d+/.test(stdout) ? stdout : undefined;
      },
      10_000,
      "the reviewer's window in the attached terminal",
    ).catch((e: Error) => {
      throw new Error(`${e.message}; the terminal shows:\n${last.trim()}`);
    });
    assert.match(screen, /working \d+/);
    // It is the resumed conversation (its first line may have scrolled off the attached screen).
    const history = await run("tmux", ["-S", sock(), "capture-pane", "-p", "-S", "-", "-t", "demo:reviewer"]);
    assert.ok(history.stdout.includes(`agent reviewer: conversation ${conv} (resumed)`), "the reviewer resumed its conversation");
    const clients = await run("tmux", ["-S", sock(), "list-clients", "-F", "#{client_session}"]);
    assert.equal(clients.stdout.trim(), "demo", "one client attached to the session");
    // Detach with the prefix key, as a person would; the attach command then exits 0.
    await run("tmux", ["-S", outerSocket, "send-keys", "-t", "me", "C-b", "d"]);
    await waitFor(
      async () => {
        const { stdout } = await run("tmux", ["-S", outerSocket, "capture-pane", "-p", "-t", "me"]);
        return stdout.includes("attach-exit-0") ? true : undefined;
      },
      10_000,
      "attach to exit after the detach",
    );
    const after = await run("tmux", ["-S", sock(), "list-clients"]);
    assert.equal(after.stdout.trim(), "");
    const missing = await spotrun(box.home, ["session", "attach", "demo", "nobody"]);
    assert.equal(missing.code, 3);
    // The agent's screen and scrollback without a terminal.
    const screenLog = await spotrun(box.home, ["session", "logs", "demo", "--agent", "reviewer", "--json"]);
    assert.equal(screenLog.code, 0, screenLog.stderr);
    assert.ok(
      (JSON.parse(screenLog.stdout) as { screen: string }).screen.includes(`agent reviewer: conversation ${conv} (resumed)`),
    );
  });

  test("stop saves and keeps the volume; resume continues every agent; destroy asks, then deletes", async () => {
    const s = await demo();
    const instance = s?.instance_id as string;
    const stop = await spotrun(box.home, ["session", "stop", "demo", "--json"]);
    assert.equal(stop.code, 0, stop.stderr);
    const stopped = JSON.parse(stop.stdout) as SessionJson & { stop: string };
    assert.equal(stopped.stop, "saved");
    assert.equal(stopped.state, "stopped");
    assert.deepEqual(leftoverProcesses([instance]), []);
    const conv = readFileSync(stateFile("coder", "conversation-id"), "utf8").trim();
    assert.equal(lines(stateFile("coder", "history")).at(-1), `stopped ${conv}`);
    const stopSteps = (await steps()).filter((x) => x.step === "save_total");
    assert.equal(stopSteps.length, 2, "one save per instance: the preemption and the stop");

    const resume = await spotrun(box.home, ["session", "resume", "demo", "--json"]);
    assert.equal(resume.code, 0, resume.stderr);
    await waitFor(
      async () => (lines(stateFile("coder", "history")).filter((l) => l === `resumed ${conv}`).length === 2 ? true : undefined),
      20_000,
      "the coder resumed a second time",
    );
    assert.equal((await demo())?.state, "running");

    const refuse = await spotrun(box.home, ["session", "destroy", "demo"]);
    assert.equal(refuse.code, 2);
    assert.match(refuse.stderr, /deletes its volume .* — confirm with --yes/);
    assert.ok(existsSync(vol()));
    const destroy = await spotrun(box.home, ["session", "destroy", "demo", "--yes", "--json"]);
    assert.equal(destroy.code, 0, destroy.stderr);
    assert.ok(!existsSync(vol()));
    assert.deepEqual(await list(), []);
  });

  test("a session file with a bad field gets one line naming the file and field, exit 2", async () => {
    const bad = await writeTask(box.work, sessionYaml.replace("save_budget: 25s", "save_budget: soon"), "bad.yaml");
    const r = await spotrun(box.home, ["session", "start", "x", "--task", bad]);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr.trim(),
      /^spotrun: .*bad\.yaml: save_budget: expected a duration such as 25s or 10m, got "soon" — fix the session file/,
    );
    assert.equal(r.stderr.trim().split("\n").length, 1);
    const dup = await writeTask(box.work, sessionYaml.replace("name: reviewer", "name: coder"), "dup.yaml");
    const r2 = await spotrun(box.home, ["session", "start", "x", "--task", dup]);
    assert.equal(r2.code, 2);
    assert.match(r2.stderr, /dup\.yaml: agents\.1\.name: agent name coder is used twice/);
  });

  test("flags instead of a file; a shell-expanded ~ means the instance's HOME; a volume too small is warned of", async () => {
    const big = join(box.work, "big");
    await mkdir(big);
    await writeFile(join(big, "blob"), Buffer.alloc(4096));
    const r = await spotrun(box.home, [
      "session",
      "start",
      "quick",
      "--persist",
      `${homedir()}/.spotrun-test-state-${process.pid}`,
      big,
      "--agent",
      "solo=sleep 30",
      "--volume-size",
      "4KB",
      "--json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /warning: the persisted paths already hold 4 KiB, over 80% of the 4 KiB volume — start with --volume-size 1GiB/,
    );
    const out = lastJson<SessionJson & { volume: { warn: boolean; estimate_bytes: number } }>(r.stdout);
    assert.deepEqual(out.volume, { size_bytes: 4096, estimate_bytes: 4096, warn: true });
    const rec = JSON.parse(readFileSync(join(box.home, "sessions", "quick", "session.json"), "utf8")) as {
      session: { persist: string[]; agents: { name: string; command: string }[] };
    };
    assert.deepEqual(rec.session.persist, [`~/.spotrun-test-state-${process.pid}`, big]);
    assert.deepEqual(rec.session.agents, [{ name: "solo", command: "sleep 30" }]);
    const vols = await spotrun(box.home, ["volume", "list", "--json"]);
    assert.equal(vols.code, 0, vols.stderr);
    const grow = await spotrun(box.home, ["volume", "resize", "quick", "1GB", "--json"]);
    assert.equal(grow.code, 0, grow.stderr);
    assert.equal((JSON.parse(grow.stdout) as { size_bytes: number }).size_bytes, 1024 ** 3);
    const shrink = await spotrun(box.home, ["volume", "resize", "quick", "1MB"]);
    assert.equal(shrink.code, 2);
    assert.match(shrink.stderr, /it can only grow/);
    const again = await spotrun(box.home, ["session", "start", "quick", "--agent", "x=y", "--persist", "~/.x"]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /session quick is already running/);
    const gone = await spotrun(box.home, ["session", "destroy", "quick", "--yes"]);
    assert.equal(gone.code, 0, gone.stderr);
  });
});
