import { errorMessage, SpotrunError } from "../base/errors.js";
import type { JobId } from "../base/ids.js";
import type { Manifest } from "../checkpoints/generations.js";
import { openCheckpointStore } from "../checkpoints/open-store.js";
import type { StateStore } from "../state/state-store.js";

/** A snapshot of the session: the job that wrote it and its generation's URL (the store URL ending in the generation). */
export interface SessionSnapshot {
  job_id: string;
  url: string;
  created_at: string;
}

/**
 * The newest verified snapshot of a session, looking through its jobs newest first: snapshots
 * belong to the session, not to the job that happened to write them, so a resume finds the one
 * its predecessor (or an earlier job, if that one never saved) left behind.
 */
export async function newestSessionSnapshot(store: StateStore, jobIds: readonly JobId[]): Promise<SessionSnapshot | undefined> {
  for (const id of [...jobIds].reverse()) {
    const job = await store.job(id);
    if (!job) continue;
    let newest: Manifest | undefined;
    try {
      [newest] = await (await openCheckpointStore(job.store_url)).verified();
    } catch (e) {
      // Starting fresh here would silently drop the agents' state: say so instead.
      throw new SpotrunError("failed", `cannot read the session's snapshots at ${job.store_url}: ${errorMessage(e)}`, {
        fix: "check the store and its credentials, then run the command again",
        cause: e,
      });
    }
    if (newest)
      return { job_id: id, url: `${job.store_url.replace(/\/+$/, "")}/${newest.generation}`, created_at: newest.created_at };
  }
  return undefined;
}
