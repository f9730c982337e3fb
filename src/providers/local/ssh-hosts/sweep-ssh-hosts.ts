import { statSync } from "node:fs";
import { defaultStateRoot, destroySync, isAlive, readRecords, UNREADABLE_RECORD_GRACE_MS } from "./host-registry.js";
import { runTool } from "./run-tool.js";

/**
 * Remove hosts left behind by runs that died before cleaning up: every `spotrun-*` namespace
 * and recorded loopback sshd whose owning process is gone. Hosts of live processes (another
 * test file, another engineer's run) are left alone.
 */
export async function sweepSshHosts(): Promise<string[]> {
  const stateRoot = defaultStateRoot();
  const records = readRecords(stateRoot);
  const owned = new Map(records.map((r) => [r.ns ?? r.name, r]));
  const removed: string[] = [];
  for (const rec of records) {
    if (isAlive(rec.ownerPid)) continue;
    destroySync(stateRoot, rec);
    removed.push(rec.name);
  }
  const listed = await runTool("ip", ["netns", "list"], { allowFail: true });
  for (const line of listed.stdout.split("\n")) {
    const ns = line.trim().split(/\s+/)[0];
    if (!ns?.startsWith("spotrun-") || owned.has(ns)) continue;
    // A namespace with no record: its owner crashed before writing one, or the state root was wiped.
    // One younger than a minute may be a live owner between `ip netns add` and writing its record.
    if (Date.now() - nsCreatedAt(ns) < UNREADABLE_RECORD_GRACE_MS) continue;
    destroySync(stateRoot, { name: ns, ownerPid: 0, ns });
    removed.push(ns);
  }
  return removed;
}

function nsCreatedAt(ns: string): number {
  try {
    return statSync(`/run/netns/${ns}`).mtimeMs;
  } catch {
    return 0;
  }
}
