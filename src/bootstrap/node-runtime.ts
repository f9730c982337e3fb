import { instancePaths } from "../agent/instance-paths.js";
import { singleQuote as shq } from "../base/shell-quote.js";
import type { Transport } from "../transport/transport.js";
import { BootstrapError } from "./bootstrap-error.js";
import type { LocalNodeBinary } from "./local-node-binary.js";
import { type NodePin, nodeArch } from "./node-pins.js";
import { type InstanceFacts, nodeMajor } from "./probe-instance.js";

/** How the instance got its Node: recorded in the job's events. */
export type NodeSource = "image" | "cached" | "downloaded" | "uploaded";

export interface NodeReady {
  source: NodeSource;
  binary: string;
  version: string;
  ms: number;
  bytes: number;
  /** Why the earlier ways were passed over (image Node 16, download failed …). */
  detail?: string;
}

export interface NodeOptions {
  minMajor: number;
  mirror: string;
  pins: readonly NodePin[];
  local: LocalNodeBinary;
  progress?: (message: string) => void;
}

export type NodeStep =
  | { kind: "use"; source: "image" | "cached"; binary: string; version: string; detail?: string }
  | { kind: "download"; pin: NodePin; url: string }
  | { kind: "upload" };

/** Pure: the ways to get a Node ≥ minMajor on this instance, best first, and why others were passed over. */
export function planNode(
  facts: InstanceFacts,
  o: { minMajor: number; pins: readonly NodePin[]; mirror: string; localArch: string; localLibc: string },
): { steps: NodeStep[]; passedOver: string[] } {
  const passedOver: string[] = [];
  const ok = (v: string) => nodeMajor(v) >= o.minMajor;
  const cached = facts.cachedNodes.find((n) => ok(n.version));
  if (cached) return { steps: [{ kind: "use", source: "cached", binary: cached.path, version: cached.version }], passedOver };
  if (facts.imageNode && ok(facts.imageNode.version))
    return {
      steps: [{ kind: "use", source: "image", binary: facts.imageNode.path, version: facts.imageNode.version }],
      passedOver,
    };
  if (facts.imageNode)
    passedOver.push(`the image's Node ${facts.imageNode.version || "(does not run)"} is older than ${o.minMajor}`);
  else passedOver.push("the image has no Node");
  const steps: NodeStep[] = [];
  const arch = nodeArch(facts.machine);
  const pin = o.pins.find((p) => p.arch === arch);
  const canFetch = facts.tools.has("curl") || facts.tools.has("wget");
  if (!pin) passedOver.push(`no pinned Node release for ${facts.machine}`);
  else if (!canFetch) passedOver.push("no curl or wget to download Node");
  else if (!facts.tools.has("xz")) passedOver.push("no xz to unpack the Node tarball");
  else if (facts.libc !== "glibc") passedOver.push(`official Node needs glibc, the instance has ${facts.libc}`);
  else steps.push({ kind: "download", pin, url: `${o.mirror.replace(/\/+$/, "")}/${pin.version}/${pin.file}` });
  if (arch === o.localArch && facts.libc === o.localLibc) steps.push({ kind: "upload" });
  else
    passedOver.push(`the controller's Node is linux-${o.localArch} ${o.localLibc}, the instance ${facts.machine} ${facts.libc}`);
  return { steps, passedOver };
}

/** Exit codes of the scripts below, so outcomes are told apart by code, never by text. */
const FETCH_FAILED = 70;
const CHECKSUM_MISMATCH = 71;
const WRITE_FAILED = 73;
const DOES_NOT_RUN = 75;

export async function ensureNode(t: Transport, instanceId: string, facts: InstanceFacts, o: NodeOptions): Promise<NodeReady> {
  const started = Date.now();
  const local = o.local.describe();
  const { steps, passedOver } = planNode(facts, {
    minMajor: o.minMajor,
    pins: o.pins,
    mirror: o.mirror,
    localArch: local.arch,
    localLibc: local.libc,
  });
  const notes = [...passedOver];
  const done = (r: Omit<NodeReady, "ms" | "detail">): NodeReady => ({
    ...r,
    ms: Date.now() - started,
    ...(notes.length ? { detail: notes.join("; ") } : {}),
  });
  const dir = instancePaths(t.home).nodeDir;
  for (const step of steps) {
    if (step.kind === "use") return done({ source: step.source, binary: step.binary, version: step.version, bytes: 0 });
    if (step.kind === "download") {
      o.progress?.(`${instanceId}: downloading Node ${step.pin.version} from ${step.url}`);
      const name = `${step.pin.version}-linux-${step.pin.arch}`;
      const r = await t.exec(downloadScript(dir, name, step.url, step.pin), { timeoutMs: 300_000 });
      if (r.exitCode === 0) {
        return done({ source: "downloaded", binary: `${dir}/${name}/bin/node`, version: r.stdout.trim(), bytes: 0 });
      }
      if (r.exitCode === WRITE_FAILED) throw diskError(instanceId, t.home, r.stderr);
      notes.push(
        r.exitCode === CHECKSUM_MISMATCH
          ? `the download from ${step.url} did not match the pinned SHA-256 (refused)`
          : `downloading ${step.url} failed (${lastLine(r.stderr) || `exit ${r.exitCode}`})`,
      );
      continue;
    }
    const bin = await o.local.gzipped();
    o.progress?.(`${instanceId}: uploading Node ${local.version} (${(bin.gzBytes / 1048576).toFixed(1)} MB compressed)`);
    const name = `${local.version}-linux-${local.arch}-${bin.sha256.slice(0, 12)}`;
    const r = await t.exec(uploadScript(dir, name, bin.sha256), { stdin: await bin.read(), timeoutMs: 600_000 });
    if (r.exitCode === 0)
      return done({ source: "uploaded", binary: `${dir}/${name}/bin/node`, version: local.version, bytes: bin.gzBytes });
    if (r.exitCode === WRITE_FAILED) throw diskError(instanceId, t.home, r.stderr);
    if (r.exitCode === DOES_NOT_RUN)
      throw new BootstrapError(
        instanceId,
        "node",
        `the controller's Node ${local.version} does not run there (${lastLine(r.stderr)})`,
        `use an image with Node ≥ ${o.minMajor}, or let the instance reach ${o.mirror} (SPOTRUN_NODE_MIRROR) with curl and xz`,
        false,
      );
    // The bytes that arrived are not the bytes sent: the stream was cut. Another try may get through.
    throw new BootstrapError(
      instanceId,
      "node",
      `the Node upload arrived incomplete (exit ${r.exitCode ?? r.signal})`,
      "check the link to the instance; spotrun retries until recovery.setup_timeout",
      true,
    );
  }
  throw new BootstrapError(
    instanceId,
    "node",
    `no way to get Node ≥ ${o.minMajor}: ${notes.join("; ")}`,
    `use an image with Node ≥ ${o.minMajor}, or one with curl and xz that reaches ${o.mirror} (SPOTRUN_NODE_MIRROR)`,
    false,
  );
}

export function diskError(instanceId: string, home: string, stderr: string): BootstrapError {
  return new BootstrapError(
    instanceId,
    "node",
    `writing to ${home} failed: ${lastLine(stderr) || "no space left?"}`,
    "raise resources.disk (or free space on the image) so the agent and Node fit",
    false,
  );
}

const lastLine = (s: string): string => s.trim().split("\n").pop()?.trim() ?? "";

/** Fetch, check against the pin, unpack beside, then rename: a half-done download is never used. */
function downloadScript(dir: string, name: string, url: string, pin: NodePin): string {
  const d = shq(dir);
  return [
    `mkdir -p ${d} || exit ${WRITE_FAILED}`,
    `t=$(mktemp -d ${d}/.dl.XXXXXX) || exit ${WRITE_FAILED}`,
    `if command -v curl >/dev/null 2>&1; then curl -fsSL --max-time 240 -o "$t/n.tar.xz" ${shq(url)}; else wget -q -T 240 -O "$t/n.tar.xz" ${shq(url)}; fi || { rm -rf "$t"; exit ${FETCH_FAILED}; }`,
    `[ "$(sha256sum "$t/n.tar.xz" | cut -c1-64)" = ${shq(pin.sha256)} ] || { rm -rf "$t"; exit ${CHECKSUM_MISMATCH}; }`,
    `tar -C "$t" -xJf "$t/n.tar.xz" || { rm -rf "$t"; exit ${WRITE_FAILED}; }`,
    `"$t/${pin.file.replace(/\.tar\.xz$/, "")}/bin/node" --version >/dev/null || { rm -rf "$t"; exit ${DOES_NOT_RUN}; }`,
    `rm -rf ${d}/${shq(name)} && mv "$t/${pin.file.replace(/\.tar\.xz$/, "")}" ${d}/${shq(name)} && rm -rf "$t" || exit ${WRITE_FAILED}`,
    `${d}/${shq(name)}/bin/node --version`,
  ].join("\n");
}

/** The gzipped binary arrives on stdin; it is checked against the controller's hash before it is kept. */
function uploadScript(dir: string, name: string, sha256: string): string {
  const d = shq(dir);
  return [
    `mkdir -p ${d} || exit ${WRITE_FAILED}`,
    `t=${d}/.up.$$; rm -rf "$t"; mkdir -p "$t/bin" || exit ${WRITE_FAILED}`,
    `gzip -dc > "$t/bin/node"; s=$?`,
    // A cut stream makes gzip fail too; only a hash that matches tells the bytes all came.
    `if [ "$(sha256sum "$t/bin/node" | cut -c1-64)" != ${shq(sha256)} ]; then set -- $(df -Pk ${d} | tail -n 1); rm -rf "$t"; [ "$s" != 0 ] && [ "\${4:-1}" -lt 1024 ] && exit ${WRITE_FAILED}; exit 74; fi`,
    `chmod 0755 "$t/bin/node" && "$t/bin/node" --version >/dev/null || { rm -rf "$t"; exit ${DOES_NOT_RUN}; }`,
    `rm -rf ${d}/${shq(name)} && mv "$t" ${d}/${shq(name)} || exit ${WRITE_FAILED}`,
  ].join("\n");
}
