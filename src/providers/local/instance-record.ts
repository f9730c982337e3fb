import { readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../../base/atomic-file.js";
import { isAlive } from "../../base/process.js";
import type { TraceReplay } from "./trace-availability.js";

/**
 * A local instance on disk: `instance.json` (what was launched; written once by the provider),
 * `host.json` (the host process's pid and metadata port) and `status.json` (owned by the host).
 * Each file has one writer, so no two processes race on one file.
 */
export interface LocalInstanceRecord {
  id: string;
  token: string;
  instanceType: string;
  spot: boolean;
  pricePerHour: number;
  onDemandPricePerHour: number;
  zone: string;
  launchedAt: number;
  tags: Record<string, string>;
  /** The instance's disk: HOME of everything that runs on it; removed when it ends. */
  disk: string;
  provisioningDelayMs: number;
  /** Planned spot interruption: the notice comes this long after the instance is running. */
  interruptAfterMs?: number;
  /** The host fails before it is up (resources.market.boot_failures). */
  failBoot?: boolean;
  /** A rebalance recommendation this long before the planned notice. */
  rebalanceBeforeMs?: number;
  noticeMs: number;
  /** SSH mode: the host makes a namespace (or loopback) sshd that authorizes this key. */
  /** `shared`: directories a bare host sees at the same path (the local file checkpoint store). */
  ssh?: { mode: "netns" | "loopback" | "bare"; authorizedKey: string; index: number; shared?: string[] };
  /** Trace-driven market: the host reclaims when the trace says capacity is gone. */
  trace?: TraceReplay;
}

export interface HostInfo {
  pid: number;
  imdsPort: number;
  /** Where the metadata endpoint listens, as seen from the instance. */
  imdsHost: string;
  /** `home`: the login's home inside the instance (a bare host's own root), when not the disk directory. */
  ssh?: { address: string; port: number; user: string; fingerprint: string; home?: string };
}

/** A spot interruption notice as the instance's metadata gave it: the action, its time, when it came. */
export interface LocalNotice {
  action: string;
  time: number;
  seenAt: number;
}

export type LocalStatus =
  | { status: "pending" }
  | { status: "running"; notice?: LocalNotice }
  /**
   * `notice`: the one it had, kept after the end as EC2 keeps a reclaimed instance's state reason,
   * so a reader that looks only now and then still learns that it came (the controller may end a
   * noticed instance well before the reclaim time).
   */
  | { status: "terminated"; endedAt: number; reason: "spot-reclaim" | "terminated" | "host-died"; notice?: LocalNotice };

export const recordPath = (dir: string) => join(dir, "instance.json");
export const hostPath = (dir: string) => join(dir, "host.json");
export const statusPath = (dir: string) => join(dir, "status.json");

function readJson<T>(path: string): T | undefined {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as T;
  } catch {
    return undefined;
  }
}

/** The host process's pid, written by the provider as it spawns it: known before the host writes host.json. */
export const hostPidPath = (dir: string) => join(dir, "host.pid");

export const readRecord = (dir: string) => readJson<LocalInstanceRecord>(recordPath(dir));
export const readHostPid = (dir: string) => readJson<number>(hostPidPath(dir));
export const readHost = (dir: string) => readJson<HostInfo>(hostPath(dir));
export const readStatus = (dir: string) => readJson<LocalStatus>(statusPath(dir));
/** The end of an instance that had `prior`: the notice it was under, if any, is kept. */
export function endedStatus(
  prior: LocalStatus | undefined,
  reason: "spot-reclaim" | "terminated" | "host-died",
  endedAt: number,
): LocalStatus {
  const notice = prior?.status === "running" ? prior.notice : undefined;
  return { status: "terminated", endedAt, reason, ...(notice ? { notice } : {}) };
}

export const writeStatus = (dir: string, s: LocalStatus) => writeFileAtomic(statusPath(dir), JSON.stringify(s));

/**
 * Why nothing can run on the instance any more, if so: its host wrote its end, or the host process
 * (the machine itself) is gone. Unknown (a status not readable this instant) counts as running.
 */
export function endedBecause(dir: string): string | undefined {
  const s = readStatus(dir);
  if (s?.status === "terminated") return `the instance has ended (${s.reason})`;
  const pid = readHost(dir)?.pid ?? readHostPid(dir);
  if (pid !== undefined && !isAlive(pid)) return "the instance's host process is gone";
  return undefined;
}
