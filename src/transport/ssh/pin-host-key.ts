import { appendFile, mkdir, readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { SpotrunError } from "../../base/errors.js";
import { fingerprintOf, type HostKey, knownHostsLine, knownHostsName, matchKnownHosts } from "./host-key.js";

export type PinOutcome = { kind: "known" } | { kind: "pinned"; fingerprint: string };

/** Pins for the same file are serialized so parallel first contacts do not write a host twice. */
const queues = new Map<string, Promise<unknown>>();

/**
 * Trust on first use, the way OpenSSH's `StrictHostKeyChecking=accept-new` does: an unknown host's key
 * is appended to `knownHostsPath`; a known host presenting a different key is refused.
 */
export function pinHostKey(knownHostsPath: string, host: string, port: number, key: HostKey): Promise<PinOutcome> {
  const prev = queues.get(knownHostsPath) ?? Promise.resolve();
  const next = prev.catch(() => undefined).then(() => check(knownHostsPath, host, port, key));
  queues.set(knownHostsPath, next);
  return next;
}

async function check(path: string, host: string, port: number, key: HostKey): Promise<PinOutcome> {
  const text = await readFile(path, "utf8").catch((e: NodeJS.ErrnoException) => {
    if (e.code === "ENOENT") return "";
    throw e;
  });
  const m = matchKnownHosts(text, host, port, key);
  if (m.kind === "match") return { kind: "known" };
  if (m.kind === "changed") throw hostKeyChanged(path, host, port, m.pinned, key);
  await mkdir(dirname(path), { recursive: true });
  const sep = text === "" || text.endsWith("\n") ? "" : "\n";
  await appendFile(path, `${sep}${knownHostsLine(host, port, key)}\n`, { mode: 0o600 });
  return { kind: "pinned", fingerprint: fingerprintOf(key.blob) };
}

export const HOST_KEY_CHANGED = "HOST_KEY_CHANGED";

function hostKeyChanged(path: string, host: string, port: number, pinned: HostKey[], presented: HostKey): SpotrunError {
  const name = knownHostsName(host, port);
  const old = pinned.map((k) => fingerprintOf(k.blob)).join(", ") || "(revoked)";
  return new SpotrunError(
    "failed",
    `host key for ${name} changed: pinned ${old}, presented ${fingerprintOf(presented.blob)} (${presented.type}); refusing to connect`,
    {
      code: HOST_KEY_CHANGED,
      fix: `if the machine was replaced or reinstalled, remove its line with \`ssh-keygen -R '${name}' -f ${path}\` and retry; otherwise someone may be intercepting the connection`,
    },
  );
}
