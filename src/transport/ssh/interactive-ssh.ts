import { shellQuote } from "../../base/shell-quote.js";
import type { SshTarget } from "./ssh-target.js";

/**
 * The system `ssh` command line that runs a command on a target for a person: with a forced tty
 * to put their terminal on it (the default), or without one to capture its output; and only the
 * host key spotrun pinned for it (a key that changed is refused, as our own transport does).
 */
export function interactiveSshArgs(t: SshTarget, remoteCommand: readonly string[], opts: { tty?: boolean } = {}): string[] {
  return [
    opts.tty === false ? "-T" : "-tt",
    "-p",
    String(t.port),
    "-o",
    // ssh reads the value as a list of files split on spaces, unless it is double-quoted.
    `UserKnownHostsFile="${t.knownHostsPath}"`,
    "-o",
    "GlobalKnownHostsFile=/dev/null",
    "-o",
    "StrictHostKeyChecking=yes",
    "-o",
    "LogLevel=ERROR",
    ...(t.privateKeyPath ? ["-i", t.privateKeyPath, "-o", "IdentitiesOnly=yes"] : []),
    `${t.user}@${t.host}`,
    remoteCommand.map(shellQuote).join(" "),
  ];
}
