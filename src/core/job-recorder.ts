import type { Clock } from "../base/clock.js";
import type { JobId } from "../base/ids.js";
import type { JobEvent } from "../state/job-event.js";
import type { JobRow, StateStore } from "../state/state-store.js";
import { ControllerBug } from "./controller-errors.js";
import { canMove, isTerminal, type JobState } from "./job-state.js";

/** Writes a job's events and state moves: the one place a transition is checked. */
export class JobRecorder {
  constructor(
    private readonly store: StateStore,
    private readonly clock: Clock,
  ) {}

  event(jobId: JobId, e: JobEvent, tx: StateStore = this.store): Promise<void> {
    return tx.appendEvent(jobId, this.clock.now(), e);
  }

  /** Move the job (in `tx`) and keep the caller's row in step, so later steps of the same visit see it. */
  async setState(tx: StateStore, job: JobRow, to: JobState, reason: string, patch: Partial<JobRow> = {}): Promise<void> {
    const from = job.state;
    if (!canMove(from, to)) throw new ControllerBug(`illegal job transition ${from} → ${to} for ${job.id}`);
    const now = this.clock.now();
    await tx.updateJob(job.id, {
      ...patch,
      state: to,
      message: reason,
      updated_at: now,
      ...(isTerminal(to) ? { ended_at: now } : {}),
    });
    if (from !== to) await this.event(job.id, { kind: "state_changed", from, to, reason }, tx);
    Object.assign(job, patch);
    job.state = to;
  }
}
