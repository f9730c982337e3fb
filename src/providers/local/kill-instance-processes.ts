import { readdirSync, readFileSync } from "node:fs";

/** Every process started on a local instance carries this variable; it is how a reclaim finds them all. */
export const INSTANCE_MARKER = "SPOTRUN_LOCAL_INSTANCE";

/** Pids whose environment marks them as running on `instanceId` (Linux /proc). */
export function instancePids(instanceId: string): number[] {
  const needle = Buffer.from(`${INSTANCE_MARKER}=${instanceId}\0`);
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/environ`).includes(needle)) out.push(pid);
    } catch {
      // Gone already, or not ours to read.
    }
  }
  return out;
}

/**
 * SIGKILL everything on the instance, as a real reclaim would. Repeated until nothing is left,
 * since a dying parent may fork once more between our scan and our kill.
 */
export function killInstanceProcesses(instanceId: string, rounds = 5): number {
  let killed = 0;
  for (let r = 0; r < rounds; r++) {
    const pids = instancePids(instanceId);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
        killed++;
      } catch {
        // Already gone.
      }
    }
  }
  return killed;
}

/**
 * SIGKILL everything on the instance and wait (up to `waitMs`) until none of it is left: a process
 * killed inside a disk write (an fsync, an upload's read) dies only when the write returns, and
 * until then it is still there. A machine the cloud calls terminated has nothing running.
 */
export async function endInstanceProcesses(instanceId: string, waitMs = 3000): Promise<void> {
  const until = Date.now() + waitMs;
  for (;;) {
    killInstanceProcesses(instanceId);
    if (instancePids(instanceId).length === 0 || Date.now() > until) return;
    await new Promise((r) => setTimeout(r, 10));
  }
}

export { isAlive } from "../../base/process.js";
