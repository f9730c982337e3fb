/**
 * Whether a state store call failed for a reason that passes by itself: SQLite's lock held by
 * another process longer than busy_timeout (SQLITE_BUSY, SQLITE_LOCKED and their extended codes),
 * or PostgreSQL refusing for a moment (a serialization failure or deadlock to retry, the server
 * shutting down or restarting, a connection lost or refused). Told apart by the drivers' error
 * codes, never by message text.
 */
export function isTransientStoreError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code !== "string") return false;
  if (/^SQLITE_(BUSY|LOCKED)(_|$)/.test(code)) return true;
  return PG_TRANSIENT.has(code) || code.startsWith("08") || NET_TRANSIENT.has(code);
}

/** PostgreSQL SQLSTATEs: serialization_failure, deadlock_detected, admin/crash shutdown, cannot_connect_now. */
const PG_TRANSIENT = new Set(["40001", "40P01", "57P01", "57P02", "57P03"]);
const NET_TRANSIENT = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT"]);
