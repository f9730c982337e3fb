/** What the reaper does with one instance this store launched. Pure. */
export type ReapAction = "keep" | "terminate" | "record_end";

export interface ReapFacts {
  /** What the provider says: running (or starting), already ended, or not found at all. */
  provider: "live" | "ended" | "absent";
  /** The store's row for it is still open (no end recorded). */
  rowOpen: boolean;
  /** The job it belongs to is known and not finished. */
  jobLive: boolean;
  /** Its attempt is the job's current one and not ended, or the next one (a pre-launched spare). */
  attemptOwns: boolean;
}

export function decideReap(f: ReapFacts): ReapAction {
  const owned = f.jobLive && f.attemptOwns;
  if (f.provider === "live") return owned ? "keep" : "terminate";
  // Ended at the provider: the store must agree, for finished jobs too (a controller killed
  // between a terminate and its record leaves the row open, and the cost would keep growing).
  return f.rowOpen && !owned ? "record_end" : "keep";
}
