import { readdirSync } from "node:fs";
import { join } from "node:path";
import { isAlive } from "../../src/base/process.js";
import { readHost, readRecord, readStatus } from "../../src/providers/local/instance-record.js";
import { TAG } from "../../src/providers/provider.js";

/**
 * What the local provider itself says is alive under a home, read from its own instance records
 * without acting on them (its describe() would also record a dead host's end): an instance lives
 * while its status is not terminated and its host process runs.
 */
export function liveLocalInstances(home: string, jobId?: string): string[] {
  const root = join(home, "local", "instances");
  let ids: string[];
  try {
    ids = readdirSync(root);
  } catch {
    return [];
  }
  return ids.filter((id) => {
    const dir = join(root, id);
    const host = readHost(dir);
    if (jobId !== undefined && readRecord(dir)?.tags[TAG.job] !== jobId) return false;
    return readStatus(dir)?.status !== "terminated" && host !== undefined && isAlive(host.pid);
  });
}

/**
 * Local instances under a home that have had a spot notice, by id, with when the instance saw it:
 * ended since or not (a reader polling now and then would miss a notice the controller ended
 * quickly), or with `underNotice` only those still running under it.
 */
export function noticedLocalInstances(home: string, opts: { underNotice?: boolean } = {}): Map<string, number> {
  const root = join(home, "local", "instances");
  const out = new Map<string, number>();
  let ids: string[];
  try {
    ids = readdirSync(root);
  } catch {
    return out;
  }
  for (const id of ids) {
    const s = readStatus(join(root, id));
    if (s?.status === "pending" || !s?.notice || (opts.underNotice && s.status !== "running")) continue;
    out.set(id, s.notice.seenAt);
  }
  return out;
}
