import { readFile } from "node:fs/promises";
import { instancePaths } from "../agent/instance-paths.js";
import { singleQuote as shq } from "../base/shell-quote.js";
import type { Transport } from "../transport/transport.js";
import type { AgentArtifact } from "./agent-artifact.js";
import { BootstrapError } from "./bootstrap-error.js";
import { diskError } from "./node-runtime.js";

export interface AgentShipped {
  sha256: string;
  bytes: number;
  /** false: the instance already held this hash, nothing was sent. */
  uploaded: boolean;
  ms: number;
  file: string;
}

const WRITE_FAILED = 73;
const INCOMPLETE = 74;

/**
 * Put the artifact at ~/.spotrun/agent/<sha256>.mjs unless it is there, checking the bytes that
 * arrived against the hash, and point ~/.spotrun/bin/spotrun at it and the given Node.
 */
export async function shipAgent(
  t: Transport,
  instanceId: string,
  art: AgentArtifact,
  present: boolean,
  nodeBinary: string,
): Promise<AgentShipped> {
  const started = Date.now();
  const p = instancePaths(t.home);
  const file = p.agentFile(art.sha256);
  const launcher = [
    "#!/bin/sh",
    "# The spotrun agent this instance's controller shipped (sha256 in the name).",
    `exec ${shq(nodeBinary)} ${shq(file)} "$@"`,
  ];
  const script = [
    `f=${shq(file)}`,
    `if [ ! -f "$f" ]; then`,
    `  mkdir -p ${shq(p.agentDir)} || exit ${WRITE_FAILED}`,
    `  cat > "$f.$$.tmp" || { rm -f "$f.$$.tmp"; exit ${WRITE_FAILED}; }`,
    `  [ "$(sha256sum "$f.$$.tmp" | cut -c1-64)" = ${shq(art.sha256)} ] || { rm -f "$f.$$.tmp"; exit ${INCOMPLETE}; }`,
    `  mv -f "$f.$$.tmp" "$f" || exit ${WRITE_FAILED}`,
    "fi",
    `mkdir -p ${shq(p.binDir)} && printf '%s\\n' ${launcher.map(shq).join(" ")} > ${shq(`${p.launcher}.tmp`)} && chmod 0755 ${shq(`${p.launcher}.tmp`)} && mv -f ${shq(`${p.launcher}.tmp`)} ${shq(p.launcher)} || exit ${WRITE_FAILED}`,
  ].join("\n");
  const r = await t.exec(script, { ...(present ? {} : { stdin: await readFile(art.path) }), timeoutMs: 300_000 });
  if (r.exitCode === WRITE_FAILED) throw diskError(instanceId, t.home, r.stderr);
  if (r.exitCode !== 0)
    throw new BootstrapError(
      instanceId,
      "agent",
      `the agent upload arrived incomplete (exit ${r.exitCode ?? r.signal})`,
      "check the link to the instance; spotrun retries until recovery.setup_timeout",
      true,
    );
  return { sha256: art.sha256, bytes: art.bytes, uploaded: !present, ms: Date.now() - started, file };
}
