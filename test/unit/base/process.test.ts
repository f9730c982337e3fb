import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { isAlive } from "../../../src/base/process.js";
import { isAlive as hostOwnerAlive } from "../../../src/providers/local/ssh-hosts/host-registry.js";

/**
 * A real zombie: `sleep 0` exits while its parent (bash exec'd into `sleep 60`, killed when the test is done) never waits for
 * it. `kill(pid, 0)` succeeds on such a process; it is dead all the same, and a lease or a host
 * record it holds must be taken over.
 */
async function withZombie(fn: (pid: number) => void): Promise<void> {
  const parent = spawn("bash", ["-c", "sleep 0 & echo $!; exec sleep 60"], { stdio: ["ignore", "pipe", "ignore"] });
  try {
    const pid = Number(await new Promise<string>((r) => parent.stdout.once("data", (d: Buffer) => r(d.toString().trim()))));
    assert.ok(pid > 0);
    // Wait until the child has exited (state Z), bounded.
    for (let i = 0; i < 200; i++) {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    process.kill(pid, 0); // the signal check alone still says "exists"
    fn(pid);
  } finally {
    parent.kill("SIGKILL");
  }
}

test("a zombie is not alive (the controller's lease check and the host registry's)", async () => {
  await withZombie((pid) => {
    assert.equal(isAlive(pid), false);
    assert.equal(hostOwnerAlive(pid), false);
  });
});

test("this process and pid 1 are alive; a pid that was never used is not", () => {
  assert.equal(isAlive(process.pid), true);
  assert.equal(isAlive(1), true, "pid 1 is not ours (EPERM for others) but it exists");
  assert.equal(isAlive(2 ** 22 + 12345), false);
  assert.equal(hostOwnerAlive(0), false);
});
