/** What a failed bootstrap leads to. Pure. */
export type BootstrapFailureAction =
  /** The instance was reclaimed under it: the next visit ends the attempt as a preemption. */
  | { kind: "await_reclaim" }
  /** A fault no retry fixes (a changed host key, a full disk, no tar): the attempt ends with its cause. */
  | { kind: "setup_failed" }
  /** Try again after a capped, jittered backoff. */
  | { kind: "retry"; tries: number; delayMs: number };

export function decideBootstrapFailure(o: {
  reclaimed: boolean;
  retryable: boolean;
  triesSoFar: number;
  random?: () => number;
}): BootstrapFailureAction {
  if (o.reclaimed) return { kind: "await_reclaim" };
  if (!o.retryable) return { kind: "setup_failed" };
  const tries = o.triesSoFar + 1;
  const delayMs = Math.min(30_000, 1000 * 2 ** (tries - 1)) * (0.5 + (o.random ?? Math.random)() / 2);
  return { kind: "retry", tries, delayMs };
}

/** An attempt still setting up after `setup_timeout` ends: the cause to give, or undefined while in time. Pure. */
export function setupTimedOut(o: {
  now: number;
  startedAt: number;
  setupTimeoutMs: number;
  lastError: string | undefined;
  waitingFor: string | undefined;
}): string | undefined {
  if (o.now - o.startedAt <= o.setupTimeoutMs) return undefined;
  const s = Math.round(o.setupTimeoutMs / 1000);
  const what =
    o.lastError ??
    `instance ${o.waitingFor} was not running after recovery.setup_timeout ${s} s — raise recovery.setup_timeout or check the provider`;
  return `${what} (setup_timeout ${s} s)`;
}
