import { parseDuration } from "../base/duration.js";
import { usageError } from "../base/errors.js";
import { ENV_NAME } from "../spec/task-limits.js";

/**
 * Flag values checked where they are given, so a bad flag is blamed on the flag (not on the task
 * file it would have overridden) and a huge number never reaches an allocation.
 */
const shown = (v: unknown) => JSON.stringify(String(v));

/** A whole number in [min, max]. */
export function wholeNumber(flag: string, v: unknown, bounds: { min: number; max: number }): number {
  const n = Number(v);
  if (String(v).trim() === "" || !Number.isInteger(n))
    throw usageError(
      `${flag}: expected a whole number, got ${shown(v)}`,
      `give ${flag} a number from ${bounds.min} to ${bounds.max}`,
    );
  if (n < bounds.min || n > bounds.max)
    throw usageError(`${flag}: ${shown(v)} is out of range`, `give ${flag} a number from ${bounds.min} to ${bounds.max}`);
  return n;
}

/** A positive amount (USD, USD per hour). */
export function positiveAmount(flag: string, v: unknown): number {
  const n = Number(v);
  if (String(v).trim() === "" || !Number.isFinite(n) || n <= 0)
    throw usageError(`${flag}: expected a positive number, got ${shown(v)}`, `write it like ${flag} 0.50`);
  return n;
}

/** A duration such as 8s or 2m, in milliseconds. */
export function durationFlag(flag: string, v: unknown): number {
  const ms = parseDuration(String(v));
  if (ms === undefined || !Number.isFinite(ms))
    throw usageError(`${flag}: expected a duration, got ${shown(v)}`, `write it like ${flag} 8s or ${flag} 2m`);
  return ms;
}

/** `--env KEY=VALUE`, the key a name a shell can export. */
export function envFlag(kv: string): [string, string] {
  const i = kv.indexOf("=");
  if (i <= 0) throw usageError(`--env ${shown(kv)} is not KEY=VALUE`, "write it as --env NAME=value, e.g. --env EPOCHS=10");
  const key = kv.slice(0, i);
  if (!ENV_NAME.test(key))
    throw usageError(
      `--env: ${shown(key)} is not an environment variable name`,
      "use letters, digits and _, not starting with a digit",
    );
  return [key, kv.slice(i + 1)];
}
