import type { Kysely } from "kysely";
import type { Database } from "../../src/state/schema.js";

/**
 * What the bench sees of the controller: only the state store, on a connection of its own (so its
 * reads never queue behind the controller's transactions). The events table is the record every
 * view reads (status, logs, the dashboard), so "the controller has taken in an agent event" means
 * its row is there, whatever shape the controller has inside. A sample is the time from the fake
 * agent appending a line to the row being visible here, at the watch's polling resolution.
 */
export interface Sample {
  /** When the agent wrote it (ms). */
  at: number;
  /** How long until the row was seen, or, if it never was, how long it had waited when the bench ended. */
  ms: number;
  seen: boolean;
}

export class StoreWatch {
  private lastSeq = 0;
  private readonly pendingCheckpoints = new Map<string, number>();
  private readonly pendingNotices = new Map<string, number>();
  readonly checkpoints: Sample[] = [];
  readonly notices: Sample[] = [];

  constructor(private readonly db: Kysely<Database>) {}

  /** Start from the events already in the store (the ones from before the bench began to look). */
  async init(): Promise<void> {
    const r = await this.db
      .selectFrom("events")
      .select((eb) => eb.fn.max("seq").as("seq"))
      .executeTakeFirst();
    this.lastSeq = Number(r?.seq ?? 0);
  }

  expectCheckpoint(generation: string, at: number): void {
    this.pendingCheckpoints.set(generation, at);
  }

  expectNotice(jobId: string, at: number): void {
    this.pendingNotices.set(jobId, at);
  }

  get noticesPending(): number {
    return this.pendingNotices.size;
  }

  /** Checkpoint events written before `t` and not taken in yet. */
  checkpointsPendingBefore(t: number): number {
    let n = 0;
    for (const at of this.pendingCheckpoints.values()) if (at < t) n++;
    return n;
  }

  /** Every sample, taken in or not (those not at their age `now`, a lower bound). */
  all(now: number): { checkpoints: Sample[]; notices: Sample[] } {
    const u = this.unseen(now);
    return { checkpoints: [...this.checkpoints, ...u.checkpoints], notices: [...this.notices, ...u.notices] };
  }

  /** Read the rows written since the last poll and match them to what the agents wrote. */
  async poll(): Promise<void> {
    // The top first: rows committed between the two reads wait for the next poll, never skipped.
    const top = await this.db
      .selectFrom("events")
      .select((eb) => eb.fn.max("seq").as("seq"))
      .executeTakeFirst();
    const upTo = Number(top?.seq ?? 0);
    if (upTo <= this.lastSeq) return;
    const rows = await this.db
      .selectFrom("events")
      .select(["seq", "job_id", "kind", "data"])
      .where("seq", ">", this.lastSeq)
      .where("seq", "<=", upTo)
      .where("kind", "in", ["checkpoint_uploaded", "notice"])
      .execute();
    this.lastSeq = upTo;
    const now = Date.now();
    for (const r of rows) {
      if (r.kind === "notice") {
        const at = this.pendingNotices.get(r.job_id);
        if (at === undefined) continue;
        this.pendingNotices.delete(r.job_id);
        this.notices.push({ at, ms: now - at, seen: true });
      } else {
        const generation = (JSON.parse(r.data) as { generation?: string }).generation;
        const at = generation ? this.pendingCheckpoints.get(generation) : undefined;
        if (at === undefined || !generation) continue;
        this.pendingCheckpoints.delete(generation);
        this.checkpoints.push({ at, ms: now - at, seen: true });
      }
    }
  }

  /** Events the controller has not taken in yet count at their age (a lower bound) from here on. */
  unseen(now: number): { checkpoints: Sample[]; notices: Sample[] } {
    const open = (m: Map<string, number>) => [...m.values()].map((at) => ({ at, ms: now - at, seen: false }));
    return { checkpoints: open(this.pendingCheckpoints), notices: open(this.pendingNotices) };
  }

  async states(): Promise<Record<string, number>> {
    const rows = await this.db
      .selectFrom("jobs")
      .select(["state", (eb) => eb.fn.countAll<number>().as("n")])
      .groupBy("state")
      .execute();
    return Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]));
  }
}
