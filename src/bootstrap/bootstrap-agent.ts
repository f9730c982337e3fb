import { resolve } from "node:path";
import { shellQuote as shq } from "../base/shell-quote.js";
import type { BootMarkers, InstanceInfo, Provider } from "../providers/provider.js";
import type { Transport } from "../transport/transport.js";
import { type AgentArtifact, agentArtifact } from "./agent-artifact.js";
import { asBootstrapError, BootstrapError, type BootstrapStep } from "./bootstrap-error.js";
import { NODE_MIN_MAJOR } from "./build-agent-artifact.js";
import { LocalNodeBinary } from "./local-node-binary.js";
import { DEFAULT_NODE_MIRROR, NODE_PINS, type NodePin } from "./node-pins.js";
import { ensureNode, type NodeReady } from "./node-runtime.js";
import { type InstanceFacts, probeInstance } from "./probe-instance.js";
import { retirePreviousAgent } from "./retire-agent.js";
import { type AgentShipped, shipAgent } from "./ship-agent.js";
import { agentConfig, type BootstrapInput, startAgent } from "./start-agent.js";

export type { BootstrapInput } from "./start-agent.js";
export { agentConfig } from "./start-agent.js";

/** What one instance's bootstrap did, for the job's events and bench/bootstrap. */
export interface BootstrapReport {
  instanceId: string;
  node: NodeReady;
  agent: AgentShipped;
  workdirMs: number;
  startMs: number;
  totalMs: number;
}

export interface BootstrapperOptions {
  artifact?: () => Promise<AgentArtifact>;
  localNode?: LocalNodeBinary;
  /** A copy of nodejs.org/dist (air-gapped users); default `SPOTRUN_NODE_MIRROR` or nodejs.org. */
  nodeMirror?: string;
  nodePins?: readonly NodePin[];
  /** Where a person waiting sees long steps (uploads). */
  progress?: (message: string) => void;
}

/** Beyond the checkpoint hook's time: the final upload of a stopping agent (its own deadline is hook + 30 s). */
const STOP_GRACE_MS = 60_000;

/** Room needed in the home beyond Node: the artifact, the config, logs to start with. */
const HEADROOM_BYTES = 32 * 1024 * 1024;
const NODE_UNPACKED_BYTES = 120 * 1024 * 1024;

/**
 * From "instance running" to "agent running", on any instance that answers SSH: look, make sure
 * a Node ≥ 20 is there (the image's, one left by an earlier bootstrap, the pinned official
 * tarball, or the controller's own uploaded), put this controller's agent artifact there unless
 * its hash already is, ship the workdir, wait for the boot script, start the agent. Each failure
 * is a BootstrapError naming the instance, the step, the cause and whether retrying may help.
 */
export class Bootstrapper {
  private readonly localNode: LocalNodeBinary;
  private readonly artifact: () => Promise<AgentArtifact>;

  constructor(private readonly o: BootstrapperOptions = {}) {
    this.localNode = o.localNode ?? new LocalNodeBinary();
    this.artifact = o.artifact ?? agentArtifact;
  }

  async run(provider: Provider, instance: InstanceInfo, t: Transport, input: BootstrapInput): Promise<BootstrapReport> {
    const started = Date.now();
    const id = instance.id;
    const step = async <T>(name: BootstrapStep, fn: () => Promise<T>): Promise<T> => {
      try {
        return await fn();
      } catch (e) {
        throw asBootstrapError(id, name, e);
      }
    };
    const art = await this.artifact();
    const facts = await step("probe", () => probeInstance(t, art.sha256));
    checkFacts(id, t.home, facts);
    const node = await step("node", () =>
      ensureNode(t, id, facts, {
        minMajor: NODE_MIN_MAJOR,
        mirror: this.o.nodeMirror ?? process.env.SPOTRUN_NODE_MIRROR ?? DEFAULT_NODE_MIRROR,
        pins: this.o.nodePins ?? NODE_PINS,
        local: this.localNode,
        ...(this.o.progress ? { progress: this.o.progress } : {}),
      }),
    );
    if (!facts.agentPresent) this.o.progress?.(`${id}: uploading the agent (${(art.bytes / 1048576).toFixed(1)} MB)`);
    const agent = await step("agent", () => shipAgent(t, id, art, facts.agentPresent, node.binary));
    // A node kept from the last attempt (recovery.partial): its old agent stops and its files go aside first.
    await step("start", () => retirePreviousAgent(t, id, input.attempt, input.task.checkpoint.hook_timeout + STOP_GRACE_MS));
    const w0 = Date.now();
    await step("workdir", async () => {
      if (input.task.workdir) await t.upload(resolve(input.baseDir, input.task.workdir), "workdir", { exclude: [".spotrun"] });
      else await t.exec("mkdir -p workdir");
    });
    const workdirMs = Date.now() - w0;
    const markers = provider.bootMarkers?.(instance);
    if (markers) await step("start", () => waitForBootScript(t, id, markers));
    const cfg = agentConfig(input, t.home, provider.noticeSource);
    const startMs = await step("start", () => startAgent(t, id, cfg, provider.agentEnv(instance)));
    return { instanceId: id, node, agent, workdirMs, startMs, totalMs: Date.now() - started };
  }
}

/** Pure checks on what the probe saw: what no retry can fix ends the attempt here. */
function checkFacts(id: string, home: string, f: InstanceFacts): void {
  const missing = (["tar", "gzip", "sha256sum"] as const).filter((x) => !f.tools.has(x));
  if (missing.length > 0)
    throw new BootstrapError(
      id,
      "probe",
      `the image has no ${missing.join(", ")} (needed to unpack the workdir and Node and to check what arrived)`,
      "use an image with tar, gzip and coreutils (every stock cloud image has them)",
      false,
    );
  const needsNode =
    !f.cachedNodes.some((n) => /^v(2\d|[3-9]\d)\./.test(n.version)) && !/^v(2\d|[3-9]\d)\./.test(f.imageNode?.version ?? "");
  const need = HEADROOM_BYTES + (needsNode ? NODE_UNPACKED_BYTES : 0);
  if (f.freeBytes !== undefined && f.freeBytes < need)
    throw new BootstrapError(
      id,
      "probe",
      `only ${Math.floor(f.freeBytes / 1048576)} MB free in ${home}; the agent${needsNode ? " and Node" : ""} need ${Math.ceil(need / 1048576)} MB`,
      "raise resources.disk (or free space on the image)",
      false,
    );
}

const BOOT_FAILED = 76;
const BOOT_LATE = 77;

/** The boot script mounts disks and writes the spot configuration; the agent may need both. */
async function waitForBootScript(t: Transport, id: string, m: BootMarkers): Promise<void> {
  const r = await t.exec(
    `i=0; while [ ! -e ${shq(m.ready)} ]; do if [ -e ${shq(m.failed)} ]; then cat ${shq(m.failed)} >&2; exit ${BOOT_FAILED}; fi; i=$((i+1)); [ $i -gt ${m.waitSeconds} ] && exit ${BOOT_LATE}; sleep 1; done`,
    { timeoutMs: (m.waitSeconds + 30) * 1000 },
  );
  if (r.exitCode === 0) return;
  if (r.exitCode === BOOT_FAILED)
    throw new BootstrapError(
      id,
      "start",
      `the boot script failed: ${r.stderr.trim().split("\n").pop()}`,
      `see ${m.log} on the instance`,
      false,
    );
  if (r.exitCode === BOOT_LATE)
    throw new BootstrapError(
      id,
      "start",
      `the boot script was not done after ${m.waitSeconds} s`,
      `see ${m.log} on the instance`,
      false,
    );
  throw new BootstrapError(
    id,
    "start",
    `waiting for the boot script failed (exit ${r.exitCode ?? r.signal})`,
    `see ${m.log}`,
    true,
  );
}
