import { parseDuration } from "../base/duration.js";
import { usageError } from "../base/errors.js";

/**
 * `recovery.deadline` as users write it: an absolute RFC 3339 time (`2026-12-01T09:00:00Z`) or a
 * duration from the job's submission (`60h`). Returns epoch milliseconds.
 */
export function resolveDeadline(spec: string, submittedAtMs: number): number {
  const s = spec.trim();
  const rel = parseDuration(s);
  if (rel !== undefined) return submittedAtMs + rel;
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(s)) {
    const t = Date.parse(s);
    if (Number.isFinite(t)) return t;
  }
  throw usageError(
    `recovery.deadline: expected a time such as 2026-12-01T09:00:00Z or a duration such as 60h, got ${JSON.stringify(spec)}`,
    "fix recovery.deadline in the task file",
  );
}
