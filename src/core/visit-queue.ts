import type { JobId } from "../base/ids.js";
/**
 * Which job is visited when, for the controller's loop: the jobs of the current pass in order,
 * each at most once at a time, none before its next visit is due, at most `maxConcurrent` at once.
 * A job woken by news (an agent event, an instance that changed) does not wait for the pass to
 * come round to it: it goes to the front, at once, with a few slots of its own so that it never
 * waits behind slow visits either — a notice's visit is the notice's reaction time.
 */
export interface VisitQueueOptions {
  now: () => number;
  maxConcurrent: number;
  /** Slots beyond `maxConcurrent` only woken jobs may use (default a quarter of it, at least 4). */
  wokenReserve?: number;
  visit: (jobId: JobId) => Promise<void>;
}

export class VisitQueue {
  private readonly inflight = new Set<JobId>();
  private readonly nextVisit = new Map<JobId, number>();
  /** Whose next visit is a failure's backoff: news the pass finds does not cut that short. */
  private readonly backingOff = new Set<JobId>();
  /** Woken while a visit of theirs was under way: that visit must not push the next one back. */
  private readonly wokenDuring = new Set<JobId>();
  /** Woken and not visited yet, in the order they were woken. */
  private readonly front = new Set<JobId>();
  /** The current pass: its ids in order, where it has got to, and its members (only they are visited). */
  private queue: JobId[] = [];
  private pos = 0;
  private members = new Set<JobId>();
  private pumpQueued = false;
  private readonly reserve: number;

  constructor(private readonly o: VisitQueueOptions) {
    this.reserve = o.wokenReserve ?? Math.max(4, Math.floor(o.maxConcurrent / 4));
  }

  /** Visits under way. */
  get running(): number {
    return this.inflight.size;
  }

  /** Whether the current pass has been gone through. */
  get passDone(): boolean {
    return this.pos >= this.queue.length;
  }

  /** A new pass over these job ids (the active ones this controller holds). */
  startPass(ids: JobId[]): void {
    this.queue = ids;
    this.pos = 0;
    this.members = new Set(ids);
  }

  /** Something this job waits for has arrived: visit it now, before the rest of the pass. */
  wake(jobId: JobId): void {
    this.nextVisit.delete(jobId);
    this.backingOff.delete(jobId);
    if (this.inflight.has(jobId)) this.wokenDuring.add(jobId);
    else {
      this.front.add(jobId);
      this.schedulePump();
    }
  }

  /**
   * News the loop found in the store rather than heard (a cancel asked): the job is visited now if
   * it waits for a later visit; one under way or due anyway needs nothing, and a failure's backoff
   * is kept (a visit under way that read the row before the news settles, and the next look wakes it).
   */
  nudge(jobId: JobId): void {
    if (this.inflight.has(jobId) || this.backingOff.has(jobId)) return;
    if ((this.nextVisit.get(jobId) ?? 0) > this.o.now()) this.wake(jobId);
  }

  /** A visit is over: the next is due at `at`, or now if the job was woken meanwhile. */
  settle(jobId: JobId, at: number): void {
    this.backingOff.delete(jobId);
    if (this.wokenDuring.delete(jobId)) {
      this.nextVisit.delete(jobId);
      this.front.add(jobId);
      this.schedulePump();
    } else this.nextVisit.set(jobId, at);
  }

  /** A visit failed: the next is due at `at` (its backoff), news or not. */
  retryAt(jobId: JobId, at: number): void {
    this.nextVisit.set(jobId, at);
    this.backingOff.add(jobId);
  }

  /** The job has ended or left this controller. */
  forget(jobId: JobId): void {
    this.nextVisit.delete(jobId);
    this.backingOff.delete(jobId);
    this.wokenDuring.delete(jobId);
    this.front.delete(jobId);
  }

  /** Start what may start: woken jobs first (in their reserve if need be), then the pass's due jobs. */
  pump(): void {
    const now = this.o.now();
    for (const id of this.front) {
      // One under way is started again when it ends (settle runs before its end).
      if (this.inflight.has(id)) continue;
      if (!this.members.has(id)) this.front.delete(id);
      else if (this.inflight.size >= this.o.maxConcurrent + this.reserve) break;
      else {
        this.front.delete(id);
        this.start(id);
      }
    }
    while (this.inflight.size < this.o.maxConcurrent && this.pos < this.queue.length) {
      const id = this.queue[this.pos++] as JobId;
      if (this.inflight.has(id) || (this.nextVisit.get(id) ?? 0) > now) continue;
      this.start(id);
    }
  }

  /** Wakes come from inside visits and stream callbacks: pump once they are done, not inside them. */
  private schedulePump(): void {
    if (this.pumpQueued) return;
    this.pumpQueued = true;
    queueMicrotask(() => {
      this.pumpQueued = false;
      this.pump();
    });
  }

  private start(id: JobId): void {
    this.inflight.add(id);
    void this.o.visit(id).finally(() => {
      this.inflight.delete(id);
      this.pump();
    });
  }
}
