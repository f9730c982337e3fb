import { type Clock, systemClock } from "../../base/clock.js";
import { SpotrunError } from "../../base/errors.js";
import { type Logger, silentLogger } from "../../base/logger.js";
import { singleQuote as shq } from "../../base/shell-quote.js";
import type { Transport } from "../transport.js";
import { SshSession } from "./ssh-session.js";
import type { SshTarget } from "./ssh-target.js";
import { SshTransport } from "./ssh-transport.js";

export type { SshTarget } from "./ssh-target.js";

const DEFAULT_KEEPALIVE_MS = 5_000;

/**
 * Connect to one host over SSH (ssh2): the host key is pinned on first contact and checked
 * after, the connection is kept alive and re-made with backoff (2, 4, 8, 16 s, through `clock`)
 * when it drops, and the returned Transport runs commands and moves files there.
 */
export async function connectSsh(
  target: SshTarget,
  opts?: { logger?: Logger; clock?: Clock; keepaliveMs?: number },
): Promise<Transport> {
  const logger = opts?.logger ?? silentLogger;
  const clock = opts?.clock ?? systemClock;
  const keepaliveMs = opts?.keepaliveMs ?? DEFAULT_KEEPALIVE_MS;
  const label = target.label ?? `ssh:${target.user}@${target.host}:${target.port}`;
  const session = new SshSession(target, label, clock, logger, keepaliveMs);
  try {
    // A transport with no home cannot resolve relative paths, so it is settled before anyone uses it.
    const probe = new SshTransport(label, "/", target, session, clock, logger, keepaliveMs);
    const home = target.home ?? (await probe.exec('printf %s "$HOME"')).stdout;
    const made = await probe.exec(`mkdir -p -- ${shq(home)}`);
    if (made.exitCode !== 0)
      throw new SpotrunError("failed", `cannot create home ${home} on ${label}: ${made.stderr.trim()}`, {
        fix: "pick a home the SSH user can write, or fix its permissions",
      });
    return new SshTransport(label, home, target, session, clock, logger, keepaliveMs);
  } catch (e) {
    session.close();
    throw e;
  }
}
