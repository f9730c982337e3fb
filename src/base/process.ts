import { readFileSync } from "node:fs";

/**
 * Whether a process exists on this host and has not died. EPERM means it exists but is not ours.
 * A zombie (exited, not yet reaped by its parent) still answers `kill(pid, 0)`; it is dead all the
 * same, so on Linux its state is read from /proc (Z or X: gone).
 */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  const state = procState(pid);
  return state === undefined || (state !== "Z" && state !== "X");
}

/** The one-letter state of /proc/<pid>/stat, or undefined where there is no /proc to read. */
function procState(pid: number): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch (e) {
    // The process ended between the signal and the read: gone. No /proc at all: trust the signal.
    return (e as NodeJS.ErrnoException).code === "ENOENT" && process.platform === "linux" ? "X" : undefined;
  }
  // "pid (comm) S …": comm may itself hold spaces or parentheses, so read after the last ")".
  return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
}
