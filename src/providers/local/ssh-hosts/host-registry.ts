import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isAlive } from "../../../base/process.js";
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
  /** The host end of the veth pair, removed explicitly in case it never made it into the namespace. */
  veth?: string;
  sshdPid?: number;
  /** A bare host's keeper, which holds its root's mounts. */
  keeperPid?: number;
}

/**
 * One registry per user at a fixed place (not per TMPDIR), so every process's sweeper sees every
 * host: a namespace missing from it would look abandoned and be removed from under its owner.
 */
export const defaultStateRoot = (): string => {
  const uid = process.getuid?.() ?? 0;
  return uid === 0 ? "/run/spotrun-ssh-hosts" : join(tmpdir(), `spotrun-ssh-hosts-${uid}`);
};

/**
 * Written whole (a temporary file renamed over it): another process's sweeper reads records at any
 * moment, and a record caught half-written must not pass for one whose owner is gone.
 */
export function writeRecord(stateRoot: string, rec: HostRecord): void {
  const dir = join(stateRoot, rec.name);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `owner.json.${process.pid}.tmp`);
  writeFileSync(tmp, JSON.stringify(rec));
  renameSync(tmp, join(dir, "owner.json"));
}

/** A record with no readable owner younger than this may be a live owner between `mkdir` and its first write. */
export const UNREADABLE_RECORD_GRACE_MS = 60_000;

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
      // No owner to ask: abandoned only once it is older than a live owner takes to write one.
      if (Date.now() - mtimeMs(join(stateRoot, name)) >= UNREADABLE_RECORD_GRACE_MS) out.push({ name, ownerPid: 0 });
    }
  }
  return out;
}

function mtimeMs(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

/** Whether a host's owner or sshd still runs (a zombie does not). */
export { isAlive };

/** Remove one host's processes, namespace and state without awaiting anything. */
export function destroySync(stateRoot: string, rec: HostRecord): void {
  for (const pid of [rec.sshdPid, rec.keeperPid]) {
    if (!pid || !isAlive(pid)) continue;
    try {
      process.kill(pid, "SIGCONT");
      process.kill(pid, "SIGKILL");
    } catch {}
  }
  // While our namespace exists the veth name is still ours; once it is gone the name may belong to another host.
  const ownsVeth = rec.ns !== undefined && existsSync(`/run/netns/${rec.ns}`);
  if (rec.ns) {
    // Sessions forked by sshd live in the namespace too; the namespace cannot be reused while they run.
    for (const pid of nsPids(rec.ns)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
    }
    runToolSync("ip", ["netns", "del", rec.ns]);
  }
  if (rec.veth && ownsVeth) runToolSync("ip", ["link", "del", rec.veth]);
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
    process.on("exit", destroyAll);
    // A signal nobody else handles kills the process without running "exit" handlers: clean up,
    // then die of it as we would have. When another listener handles it (the CLI asking whether
    // to keep a job running), that listener decides, and the exit hook cleans up if we do exit.
    for (const sig of ["SIGINT", "SIGTERM"] as const) {
      const onSignal = () => {
        if (process.listenerCount(sig) > 1) return;
        destroyAll();
        process.removeListener(sig, onSignal);
        process.kill(process.pid, sig);
      };
      process.on(sig, onSignal);
    }
  }
}

function destroyAll(): void {
  for (const { stateRoot, rec } of live.values()) destroySync(stateRoot, rec);
  live.clear();
}

export const untrackHost = (name: string): void => {
  live.delete(name);
};
