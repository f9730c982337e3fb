import { createHash, createHmac } from "node:crypto";

/**
 * Host keys as OpenSSH sees them: the wire blob, its type, its SHA256 fingerprint and the
 * known_hosts spelling of a host, so the files we write are the files `ssh` and `rsync -e ssh` read.
 */
export interface HostKey {
  type: string;
  blob: Buffer;
}

/** The key type is the first SSH string inside the blob (`ssh-ed25519`, `rsa-sha2-512` keys say `ssh-rsa`). */
export function hostKeyFromBlob(blob: Buffer): HostKey {
  const len = blob.readUInt32BE(0);
  return { type: blob.subarray(4, 4 + len).toString("ascii"), blob };
}

/** `SHA256:<base64 without padding>`, as `ssh-keygen -lf` prints it. */
export const fingerprintOf = (blob: Buffer): string =>
  `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;

/** The fingerprint of a `.pub` line (`ssh-ed25519 AAAA… comment`). */
export function fingerprintOfPublicKeyLine(line: string): string {
  const b64 = line.trim().split(/\s+/)[1];
  if (!b64) throw new Error(`not an OpenSSH public key line: ${line.slice(0, 40)}`);
  return fingerprintOf(Buffer.from(b64, "base64"));
}

/** OpenSSH writes `host` for port 22 and `[host]:port` otherwise. */
export const knownHostsName = (host: string, port: number): string => (port === 22 ? host : `[${host}]:${port}`);

export const knownHostsLine = (host: string, port: number, key: HostKey): string =>
  `${knownHostsName(host, port)} ${key.type} ${key.blob.toString("base64")}`;

export type KnownHostsMatch = { kind: "match" } | { kind: "unknown" } | { kind: "changed"; pinned: HostKey[] };

/** Whether one pattern field (comma list, maybe hashed `|1|salt|hash`) names this host. */
function patternNames(field: string, name: string): boolean {
  if (field.startsWith("|1|")) {
    const [, , salt, hash] = field.split("|");
    if (!salt || !hash) return false;
    return createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest("base64") === hash;
  }
  let hit = false;
  for (const p of field.split(",")) {
    // A negated pattern that matches vetoes the line, as in OpenSSH's match_hostname.
    if (p.startsWith("!")) {
      if (globMatch(p.slice(1), name)) return false;
    } else if (globMatch(p, name)) hit = true;
  }
  return hit;
}

function globMatch(pattern: string, name: string): boolean {
  if (!/[*?]/.test(pattern)) return pattern === name;
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")
      .replace(/\?/g, ".")}$`,
  );
  return re.test(name);
}

/**
 * Looks a presented key up in known_hosts text. Keys of another type for the same host do not
 * count as a change (the server may offer several), but a different key of the same type does,
 * and so does a `@revoked` line.
 */
export function matchKnownHosts(text: string, host: string, port: number, presented: HostKey): KnownHostsMatch {
  const name = knownHostsName(host, port);
  const pinned: HostKey[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const fields = line.split(/\s+/);
    let marker: string | undefined;
    if (fields[0]?.startsWith("@")) marker = fields.shift();
    const [hosts, type, b64] = fields;
    if (!hosts || !type || !b64 || marker === "@cert-authority") continue;
    if (!patternNames(hosts, name)) continue;
    const blob = Buffer.from(b64, "base64");
    if (marker === "@revoked") {
      if (blob.equals(presented.blob)) return { kind: "changed", pinned };
      continue;
    }
    if (blob.equals(presented.blob)) return { kind: "match" };
    if (type === presented.type) pinned.push({ type, blob });
  }
  return pinned.length > 0 ? { kind: "changed", pinned } : { kind: "unknown" };
}
