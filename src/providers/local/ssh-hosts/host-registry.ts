import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runToolSync } from "./run-tool.js";

/**
 * Every host we make is recorded under a state root with the pid of the process that owns it,
 * so a sweeper can tell leftovers of a crashed run from hosts another live run is using, and
 * so this process removes its own hosts on exit even when a test never reached its cleanup.
 */
export interface HostRecord {
  name: string;
  ownerPid: number;
  ns?: string;
  sshdPid?: number;
}

export const defaultStateRoot = (): string => join(tmpdir(), "spotrun-ssh-hosts");

export function writeRecord(stateRoot: string, rec: HostRecord): void {
  mkdirSync(join(stateRoot, rec.name), { recursive: true });
  writeFileSync(join(stateRoot, rec.name, "owner.json"), JSON.stringify(rec));
}

export function readRecords(stateRoot: string): HostRecord[] {
  let names: string[];
  try {
    names = readdirSync(stateRoot);
  } catch {
    return [];
  }
  const out: HostRecord[] = [];
  for (const name of names) {
    try {
      out.push(JSON.parse(readFileSync(join(stateRoot, name, "owner.json"), "utf8")) as HostRecord);
    } catch {
      out.push({ name, ownerPid: 0 });
    }
  }
  return out;
}

export const isAlive = (pid: number): boolean => {
  if (pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
};

/** Remove one host's processes, namespace and state without awaiting anything. */
export function destroySync(stateRoot: string, rec: HostRecord): void {
  if (rec.sshdPid && isAlive(rec.sshdPid)) {
    try {
      process.kill(rec.sshdPid, "SIGCONT");
      process.kill(rec.sshdPid, "SIGKILL");
    } catch {}
  }
  if (rec.ns) {
    // Sessions forked by sshd live in the namespace too; the namespace cannot be reused while they run.
    for (const pid of nsPids(rec.ns)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
    }
    runToolSync("ip", ["netns", "del", rec.ns]);
  }
  rmSync(join(stateRoot, rec.name), { recursive: true, force: true });
}

function nsPids(ns: string): number[] {
  try {
    return execFileSync("ip", ["netns", "pids", ns], { encoding: "utf8" }).split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

const live = new Map<string, { stateRoot: string; rec: HostRecord }>();
let hooked = false;

/** Track a host so process exit removes it if nobody stopped it. */
export function trackHost(stateRoot: string, rec: HostRecord): void {
  live.set(rec.name, { stateRoot, rec });
  writeRecord(stateRoot, rec);
  if (!hooked) {
    hooked = true;
    process.on("exit", () => {
      for (const { stateRoot: root, rec: r } of live.values()) destroySync(root, r);
    });
  }
}

export const untrackHost = (name: string): void => {
  live.delete(name);
};
