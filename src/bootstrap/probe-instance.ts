import { instancePaths } from "../agent/instance-paths.js";
import { AGENT_DIR } from "../agent/protocol.js";
import { singleQuote as shq } from "../base/shell-quote.js";
import type { Transport } from "../transport/transport.js";

/** What one round trip learns about an instance before anything is sent to it. */
export interface InstanceFacts {
  /** `uname -m` */
  machine: string;
  libc: "glibc" | "musl" | "unknown";
  /** e.g. `2.36` for glibc. */
  libcVersion?: string;
  tools: Set<string>;
  /** The image's `node` on PATH, with what `--version` printed (empty when it did not run). */
  imageNode?: { path: string; version: string };
  /** Node runtimes an earlier bootstrap left in ~/.spotrun/node. */
  cachedNodes: { path: string; version: string }[];
  agentPresent: boolean;
  /** An agent configuration is there: an earlier attempt's agent (a node kept by recovery.partial), or this attempt's own. */
  agentConfigured: boolean;
  /** Free space where the home is, in bytes. */
  freeBytes?: number;
}

export const PROBED_TOOLS = ["tar", "gzip", "xz", "curl", "wget", "sha256sum", "setsid", "nohup"] as const;

/** POSIX sh only: a bare image has no bash guarantee, no awk guarantee. */
export function probeScript(home: string, agentSha256: string): string {
  const p = instancePaths(home);
  return [
    'echo "machine=$(uname -m)"',
    // getconf prints `glibc 2.36`; the parser takes the second word.
    'if ls /lib/ld-musl-* >/dev/null 2>&1; then echo libc=musl; else v=$(getconf GNU_LIBC_VERSION 2>/dev/null) && echo "libc=$v" || echo libc=unknown; fi',
    `for t in ${PROBED_TOOLS.join(" ")}; do command -v "$t" >/dev/null 2>&1 && echo "tool=$t"; done`,
    'n=$(command -v node 2>/dev/null) && echo "image_node=$n $("$n" --version 2>/dev/null | head -n 1)"',
    `for n in ${shq(p.nodeDir)}/*/bin/node; do [ -x "$n" ] && echo "cached_node=$n $("$n" --version 2>/dev/null | head -n 1)"; done`,
    `[ -f ${shq(p.agentFile(agentSha256))} ] && echo agent=present`,
    `[ -f ${shq(`${home}/${AGENT_DIR}/agent.json`)} ] && echo agent_config=present`,
    `set -- $(df -Pk ${shq(home)} 2>/dev/null | tail -n 1); [ -n "$4" ] && echo "free_kb=$4"`,
    "true",
  ].join("\n");
}

/** Pure: the probe's output → facts. Unknown lines are ignored, so an older probe still parses. */
export function parseProbe(stdout: string): InstanceFacts {
  const facts: InstanceFacts = {
    machine: "",
    libc: "unknown",
    tools: new Set(),
    cachedNodes: [],
    agentPresent: false,
    agentConfigured: false,
  };
  for (const line of stdout.split("\n")) {
    const eq = line.indexOf("=");
    if (eq < 0) continue;
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1).trim();
    switch (key) {
      case "machine":
        facts.machine = value;
        break;
      case "libc": {
        const [kind, version] = value.split(" ");
        if (kind === "glibc" || kind === "musl") facts.libc = kind;
        if (version) facts.libcVersion = version;
        break;
      }
      case "tool":
        facts.tools.add(value);
        break;
      case "image_node":
      case "cached_node": {
        const sp = value.indexOf(" ");
        const node = sp < 0 ? { path: value, version: "" } : { path: value.slice(0, sp), version: value.slice(sp + 1).trim() };
        if (key === "image_node") facts.imageNode = node;
        else facts.cachedNodes.push(node);
        break;
      }
      case "agent":
        facts.agentPresent = value === "present";
        break;
      case "agent_config":
        facts.agentConfigured = value === "present";
        break;
      case "free_kb": {
        const kb = Number(value);
        if (Number.isFinite(kb)) facts.freeBytes = kb * 1024;
        break;
      }
    }
  }
  return facts;
}

export async function probeInstance(t: Transport, agentSha256: string): Promise<InstanceFacts> {
  const r = await t.exec(probeScript(t.home, agentSha256), { timeoutMs: 30_000 });
  if (r.exitCode !== 0) throw new Error(`the probe exited ${r.exitCode ?? r.signal}: ${r.stderr.trim().slice(-300)}`);
  return parseProbe(r.stdout);
}

/** `v20.18.0` → 20; anything else → 0. */
export function nodeMajor(version: string): number {
  const m = /^v(\d+)\./.exec(version.trim());
  return m ? Number(m[1]) : 0;
}
