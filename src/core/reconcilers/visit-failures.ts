import { errorMessage } from "../../base/errors.js";
import type { ProviderCache } from "../../providers/registry.js";
import type { Task } from "../../spec/task-schema.js";
import type { JobRow } from "../../state/state-store.js";
import { isTransientStoreError } from "../../state/store-errors.js";
import { bugMessage, faultOf, RETRY_WINDOW_MS, retryDelayMs } from "../controller-errors.js";
import { isTerminal } from "../job-state.js";
import type { ReconcilerDeps } from "./deps.js";
import type { Teardown } from "./teardown.js";

/**
 * A visit that threw: what happens next is decided by what the error is. The store being busy,
 * the network, a provider that may answer later: retried with capped, jittered backoff for up to
 * RETRY_WINDOW_MS, then the job fails saying why. The user's fault or a bug: the job fails now,
 * with the cause (and, for a bug, the words to report it), logged once.
 */
export class VisitFailures {
  /** Consecutive failed visits per job: when the first was, and how many. */
  private readonly failing = new Map<string, { since: number; n: number }>();

  constructor(
    private readonly d: ReconcilerDeps,
    private readonly teardown: Teardown,
    private readonly providers: ProviderCache,
  ) {}

  succeeded(jobId: string): void {
    this.failing.delete(jobId);
  }

  /** When to visit the job next, or "forget" once it has ended. */
  async failed(job: JobRow, e: unknown): Promise<number | "forget"> {
    const now = this.d.clock.now();
    const fault = isTransientStoreError(e) ? "store" : faultOf(e);
    const f = this.failing.get(job.id) ?? { since: now, n: 0 };
    f.n++;
    this.failing.set(job.id, f);
    if (fault === "store" || (fault === "retryable" && now - f.since < RETRY_WINDOW_MS)) {
      this.d.logger.warn({ job: job.id, err: errorMessage(e), tries: f.n }, "reconcile failed; will retry");
      return now + retryDelayMs(f.n);
    }
    const message =
      fault === "bug"
        ? bugMessage(e, `job ${job.id} in ${job.state}`)
        : fault === "retryable"
          ? `gave up after ${Math.round((now - f.since) / 60_000)} min of failures: ${errorMessage(e)}`
          : errorMessage(e);
    if (fault === "bug") this.d.logger.error({ job: job.id, err: e instanceof Error ? e.stack : String(e) }, message);
    else this.d.logger.warn({ job: job.id }, message);
    try {
      const fresh = await this.d.store.job(job.id);
      if (fresh && !isTerminal(fresh.state)) await this.failJob(fresh, message);
      this.failing.delete(job.id);
      return "forget";
    } catch (e2) {
      this.d.logger.warn({ job: job.id, err: errorMessage(e2) }, "could not record the failure; will retry");
      return now + retryDelayMs(f.n);
    }
  }

  /** End the job as FAILED, its attempt with it, its instances, and any spare its tag finds. */
  private async failJob(job: JobRow, message: string): Promise<void> {
    const now = this.d.clock.now();
    const attempt = job.attempt >= 0 ? await this.d.store.attempt(job.id, job.attempt) : undefined;
    await this.d.store.transaction(async (tx) => {
      if (attempt && attempt.state !== "ENDED")
        await tx.updateAttempt(job.id, attempt.idx, { state: "ENDED", ended_at: now, end_kind: "lost", end_detail: message });
      await tx.updateJob(job.id, { state: "FAILED", message, updated_at: now, ended_at: now });
      await this.d.recorder.event(job.id, { kind: "state_changed", from: job.state, to: "FAILED", reason: message }, tx);
    });
    // A job that never launched has nothing at the provider.
    if (!attempt) return;
    const task = JSON.parse(job.task_json) as Task;
    const provider = await this.providers.get(task.resources.provider).catch(() => undefined);
    if (!provider) return;
    const failed: JobRow = { ...job, state: "FAILED", message, updated_at: now, ended_at: now };
    // A warm replacement or pre-launch the visit had rented is the job's too (as when it ends otherwise).
    this.d.background(
      (async () => {
        await this.teardown.terminateAttempt(job.id, attempt.idx, provider, "failed");
        await this.teardown.endTagged({ job: failed, task, provider });
      })(),
    );
  }
}
