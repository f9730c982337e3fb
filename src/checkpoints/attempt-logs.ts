/**
 * Each attempt's output, kept beside its checkpoints: the agent ships its run log there when the
 * attempt ends, so the lines an instance printed survive it even when no controller was reading
 * them at the time (a controller restarting after the reclaim reads them back from here).
 */
export const attemptLogKey = (attempt: number): string => `logs/attempt-${String(attempt).padStart(6, "0")}.log`;
