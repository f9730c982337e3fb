import { ExternalError, errorMessage, isRetryable, isUserError, SpotrunError } from "../base/errors.js";

/**
 * What the controller does with an error is decided by what the error is, never by where it
 * happened or what its message says: the user's fault ends the attempt (or the job) with its fix,
 * a retryable one is tried again with capped backoff and then fails clearly, and anything else is
 * a bug in spotrun: the job fails saying so, once, instead of looping.
 */
export type Fault = "user" | "retryable" | "bug";

/** A state the controller's own logic should never reach (an illegal transition, a launch before the lease). */
export class ControllerBug extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ControllerBug";
  }
}

export function faultOf(e: unknown): Fault {
  // The engine's own errors are programming mistakes: retrying cannot fix them.
  if (
    e instanceof ControllerBug ||
    e instanceof TypeError ||
    e instanceof ReferenceError ||
    e instanceof RangeError ||
    e instanceof SyntaxError
  )
    return "bug";
  if (isUserError(e)) return "user";
  if (isRetryable(e)) return "retryable";
  // A provider's or service's non-retryable answer (quota, permission) is the user's to fix.
  if (e instanceof SpotrunError || e instanceof ExternalError) return "user";
  // Anything else came from the world outside (a dropped SSH channel, a reset, a full disk on the
  // instance): it may pass, and the retry window bounds how long we wait for it to.
  return "retryable";
}

/** How long a retryable visit failure is retried before the job fails with it. */
export const RETRY_WINDOW_MS = 10 * 60_000;

/** Capped exponential backoff with jitter: 1 s, 2 s, 4 s … 60 s, each ±50 %. */
export function retryDelayMs(failures: number, random: () => number = Math.random): number {
  const base = Math.min(60_000, 1000 * 2 ** Math.max(0, failures - 1));
  return Math.round(base * (0.5 + random()));
}

/** The job's message for a bug: what broke and where, so the report can be acted on. */
export const bugMessage = (e: unknown, where: string): string =>
  `this is a bug in spotrun (${where}: ${errorMessage(e)}) — rerun with --debug and report it`;
