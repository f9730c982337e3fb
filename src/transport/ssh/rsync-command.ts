import type { SshTarget } from "./ssh-target.js";

/** rsync splits `-e` on spaces but honours quotes, so every path is single-quoted. */
const q = (s: string) => `'${s.replace(/'/g, `'"'"'`)}'`;

/**
 * The `-e` command rsync uses: the system ssh, reading only our pinned known_hosts and refusing
 * anything else, so rsync never trusts a key the transport would refuse.
 */
export function rsyncSshCommand(t: SshTarget, keepaliveMs: number): string {
  const aliveS = Math.max(1, Math.round(keepaliveMs / 1000));
  const words = [
    "ssh",
    "-p",
    String(t.port),
    "-o",
    q(`UserKnownHostsFile=${t.knownHostsPath}`),
    "-o",
    "GlobalKnownHostsFile=/dev/null",
    "-o",
    "StrictHostKeyChecking=yes",
    "-o",
    "BatchMode=yes",
    "-o",
    "LogLevel=ERROR",
    "-o",
    `ConnectTimeout=${Math.max(1, aliveS * 3)}`,
    "-o",
    `ServerAliveInterval=${aliveS}`,
    "-o",
    "ServerAliveCountMax=3",
  ];
  if (t.privateKeyPath) words.push("-i", q(t.privateKeyPath), "-o", "IdentitiesOnly=yes");
  return words.join(" ");
}

/** `user@host:path`, with IPv6 literals in brackets as rsync wants them. */
export const rsyncTarget = (t: SshTarget, path: string): string =>
  `${t.user}@${t.host.includes(":") ? `[${t.host}]` : t.host}:${path}`;
