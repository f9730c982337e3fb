import { readdirSync, readFileSync } from "node:fs";
import { instancePaths } from "../../src/agent/instance-paths.js";
import { agentArtifact } from "../../src/bootstrap/agent-artifact.js";
import { shipAgent } from "../../src/bootstrap/ship-agent.js";
import type { Transport } from "../../src/transport/transport.js";

/**
 * What the tests of `agent follow` share: the shipped artifact put on a host the way bootstrap
 * puts it (launcher in ~/.spotrun/bin), and a look at the machine's processes (every test host
 * here shares this machine's process table, namespaced or not).
 */
export async function installAgent(t: Transport, id: string): Promise<string> {
  const art = await agentArtifact();
  await shipAgent(t, id, art, false, process.execPath);
  return instancePaths(t.home).launcher;
}

/** Pids of processes whose command line holds all of `words` (as separate arguments). */
export function processesWith(words: string[]): number[] {
  const pids: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${name}/cmdline`, "utf8").split("\0");
    } catch {
      continue;
    }
    if (words.every((w) => argv.includes(w))) pids.push(Number(name));
  }
  return pids;
}

/** The parent of a process, from /proc (0 when it is gone). */
export function parentOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name is in parentheses and may hold spaces; the fields after it are plain.
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return 0;
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll `cond` every 10 ms until it holds or `ms` pass; the last value. */
export async function waitFor<T>(cond: () => T, ms: number): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = cond();
    if (v || Date.now() > until) return v;
    await sleep(10);
  }
}
