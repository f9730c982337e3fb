import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { bin, lastJson, sandbox, spotrun, waitFor, writeTask } from "../support-cli/spotrun-cli.js";

/**
 * A controller killed with -9 whose parent does not reap it stays a zombie: `kill(pid, 0)` still
 * succeeds on it. Where PID 1 reaps nothing (some containers and VMs) every killed background
 * controller is one. The next command must see it as dead and start another at once, not after
 * the lease (15 s) runs out. Here the controller's parent is a `sleep` that never waits.
 */
interface StatusJson {
  controller: { pid: number } | null;
}

const procState = (pid: number): string => {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    return s.slice(s.lastIndexOf(")") + 2, s.lastIndexOf(")") + 3);
  } catch {
    return "gone";
  }
};

let box: Awaited<ReturnType<typeof sandbox>>;
before(async () => {
  box = await sandbox("zombie");
});
after(async () => box.cleanup());

test("status right after the controller was kill -9ed starts a new one while the old one is an unreaped zombie", async () => {
  const parent = spawn(
    "bash",
    ["-c", `"${process.execPath}" "${bin}" --home "${box.home}" controller run >/dev/null 2>&1 & echo $!; exec sleep 120`],
    { stdio: ["ignore", "pipe", "ignore"], env: { ...process.env, NO_COLOR: "1" } },
  );
  try {
    const pid = Number(await new Promise<string>((r) => parent.stdout.once("data", (d: Buffer) => r(d.toString().trim()))));
    const task = await writeTask(
      box.work,
      "name: zombie\nresources: {provider: local}\nworkdir: .\nrun: python3 trainer.py\nenvs: {TOTAL_STEPS: 100000, STEP_SECONDS: 0.05}\n",
    );
    const held = async () => {
      const s = JSON.parse((await spotrun(box.home, ["status", "--json"])).stdout) as StatusJson;
      return s.controller?.pid;
    };
    await waitFor(async () => ((await held()) === pid ? true : undefined), 30_000, "our controller to hold the lease");
    const r = await spotrun(box.home, ["run", task, "--detach", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const job = lastJson<{ id: string }>(r.stdout);
    assert.equal(await held(), pid, "the job went to the running controller");

    process.kill(pid, "SIGKILL");
    await waitFor(async () => (procState(pid) === "Z" ? true : undefined), 5_000, "the controller to become a zombie");
    const killedAt = Date.now();
    // Well inside the dead controller's 15 s lease: a new one was started and took over.
    const next = await waitFor(
      async () => {
        const p = await held();
        return p !== undefined && p !== pid && procState(p) !== "Z" && procState(p) !== "gone" ? p : undefined;
      },
      8_000,
      "a new controller",
    );
    assert.ok(Date.now() - killedAt < 8_000);
    assert.notEqual(next, pid);
    assert.equal((await spotrun(box.home, ["cancel", job.id])).code, 0);
  } finally {
    parent.kill("SIGKILL");
  }
});
