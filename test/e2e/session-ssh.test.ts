import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { cp } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { bin, repoRoot, sandbox, spotrun, waitFor, writeTask } from "../support-cli/spotrun-cli.js";

const run = promisify(execFile);

/**
 * `session attach` on an instance reached over SSH, as on a cloud: the local provider's SSH mode
 * gives each instance its own sshd (loopback) and host key. The session is reclaimed once, so the
 * attach goes to the replacement instance, through the person's own `ssh`, with the key spotrun
 * pinned for that instance.
 */
const sessionYaml = `
resources:
  provider: local
  instance_type: local.small
  spot: true
  market: {ssh: loopback, interrupt_after: [5s], notice: 3s}
workdir: .
persist: [~/.agent-state, ~/workspaces]
agents:
  - {name: coder, command: ./agent.sh, resume_command: ./agent.sh --resume}
envs: {AGENT_STEP_SECONDS: 0.2}
snapshot_interval: 1s
save_budget: 25s
volume: {size: 1GB}
`;

interface SessionJson {
  name: string;
  state: string;
  instance_id: string | null;
  interruptions: number;
}

let box: Awaited<ReturnType<typeof sandbox>>;
let outer: string;
before(async () => {
  box = await sandbox("session-ssh");
  outer = join(box.work, "..", "outer.sock");
  await cp(join(repoRoot, "examples", "sessions", "agent.sh"), join(box.work, "agent.sh"));
  await writeTask(box.work, sessionYaml, "session.yaml");
});
after(async () => {
  await run("tmux", ["-S", outer, "kill-server"]).catch(() => {});
  await spotrun(box.home, ["session", "stop", "remote"], { timeoutMs: 60_000 });
  await spotrun(box.home, ["session", "destroy", "remote", "--yes"], { timeoutMs: 30_000 });
  await box.cleanup();
});

const session = async (): Promise<SessionJson | undefined> => {
  const r = await spotrun(box.home, ["session", "list", "--json"]);
  return (JSON.parse(r.stdout) as { sessions: SessionJson[] }).sessions.find((s) => s.name === "remote");
};

/** The names of a process's ancestors, nearest first. */
function ancestors(pid: number): string[] {
  const out: string[] = [];
  for (let p = pid; p > 1 && out.length < 10; ) {
    const status = readFileSync(`/proc/${p}/status`, "utf8");
    out.push(/^Name:\s*(.+)$/m.exec(status)?.[1] ?? "?");
    p = Number(/^PPid:\s*(\d+)$/m.exec(status)?.[1] ?? 0);
  }
  return out;
}

test("session attach and logs --agent reach the session's tmux over SSH, on the instance it recovered to", async () => {
  const start = await spotrun(box.home, ["session", "start", "remote", "--task", join(box.work, "session.yaml"), "--json"]);
  assert.equal(start.code, 0, start.stderr);
  const first = await waitFor(async () => ((await session())?.instance_id ? await session() : undefined), 30_000, "an instance");
  const recovered = await waitFor(
    async () => {
      const s = await session();
      return s?.state === "running" && s.instance_id !== first.instance_id && s.interruptions === 1 ? s : undefined;
    },
    60_000,
    "the session back on a new instance after the reclaim",
  );

  const attach = `env -u TMUX ${process.execPath} ${bin} --home ${box.home} session attach remote coder; echo attach-exit-$?; sleep 30`;
  await run("tmux", ["-S", outer, "-f", "/dev/null", "new-session", "-d", "-s", "me", "-x", "150", "-y", "40", attach]);
  const screen = await waitFor(
    async () => {
      const { stdout } = await run("tmux", ["-S", outer, "capture-pane", "-p", "-t", "me"]);
      return /coder\*/.test(stdout) && /working \d+/.test(stdout) ? stdout : undefined;
    },
    15_000,
    "the coder's window in the attached terminal",
  );
  assert.match(screen, /\[remote\] 0:coder/);
  const sock = join(box.home, "sessions", "remote", "tmux.sock");
  // The resumed conversation (its first line may have scrolled off the attached screen).
  const history = await run("tmux", ["-S", sock, "capture-pane", "-p", "-S", "-", "-t", "remote:coder"]);
  assert.match(history.stdout, /\(resumed\)/);

  // The attach went through ssh to the replacement's sshd, pinned to that instance's host key.
  const { stdout: ps } = await run("ps", ["-eo", "pid,args"]);
  const sshLine = ps.split("\n").find((l) => l.includes("ssh -tt") && l.includes(recovered.instance_id as string));
  assert.ok(sshLine, `an ssh -tt to ${recovered.instance_id} (known_hosts of that instance)`);
  assert.match(sshLine, /StrictHostKeyChecking=yes/);
  const { stdout: clients } = await run("tmux", ["-S", sock, "list-clients", "-F", "#{client_pid}"]);
  const clientPid = Number(clients.trim().split("\n")[0]);
  assert.ok(ancestors(clientPid).includes("sshd"), `the tmux client runs under sshd: ${ancestors(clientPid).join(" < ")}`);

  // The agent's screen, read the same way without a terminal.
  const logs = await spotrun(box.home, ["session", "logs", "remote", "--agent", "coder", "--json"]);
  assert.equal(logs.code, 0, logs.stderr);
  assert.match((JSON.parse(logs.stdout) as { screen: string }).screen, /working \d+/);
  const none = await spotrun(box.home, ["session", "logs", "remote", "--agent", "nobody"]);
  assert.equal(none.code, 3, none.stderr);

  await run("tmux", ["-S", outer, "send-keys", "-t", "me", "C-b", "d"]);
  await waitFor(
    async () => {
      const { stdout } = await run("tmux", ["-S", outer, "capture-pane", "-p", "-t", "me"]);
      return stdout.includes("attach-exit-0") ? true : undefined;
    },
    10_000,
    "attach to exit 0 after the detach",
  );
});
