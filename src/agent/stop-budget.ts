/**
 * How long before an interruption's deadline a trainer that kept working through the notice
 * (recovery.replace_on_notice) must be stopped so its checkpoint is up in time: the hook's
 * allowance (or a SIGTERM grace), the upload (twice the last one, at least 2 s) and a second of
 * slack. Pure.
 */
export function stopBudgetMs(o: { hook: boolean; hookTimeoutMs: number; lastUploadMs: number | undefined }): number {
  const stop = o.hook ? o.hookTimeoutMs : Math.min(o.hookTimeoutMs, 5_000);
  const upload = Math.max(2_000, 2 * (o.lastUploadMs ?? 0));
  return stop + upload + 1_000;
}

/** When the deferred stop must begin: the deadline less the budget, not before now. Pure. */
export function deferredStopAt(now: number, deadline: number, budgetMs: number): number {
  return Math.max(now, deadline - budgetMs);
}
