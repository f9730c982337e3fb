import type { Clock } from "../base/clock.js";
import { toIso } from "../base/clock.js";
import { errorMessage } from "../base/errors.js";
import type { Logger } from "../base/logger.js";
import { formatUsd, summarize } from "../cost/ledger.js";
import type { NotifyKind, NotifyTarget } from "../spec/notify-schema.js";
import { eventsAfter, lastEventSeq } from "../state/event-feed.js";
import type { JobRow, StateStore } from "../state/state-store.js";
import { isTerminalState } from "../state/state-store.js";
import { type Delivery, deliver, type QueuedTarget } from "./deliver.js";
import { MAX_ATTEMPTS, notificationOf, notificationText, retryDelayMs } from "./notify-kinds.js";
import { Outbox, type OutboxRow } from "./outbox.js";

export interface NotifierOptions {
  store: StateStore;
  clock: Clock;
  logger: Logger;
  /** The user config's targets, told about every job; relative commands run in `userCwd`. */
  userTargets?: NotifyTarget[];
  userEveryMs?: number;
  userCwd?: string;
  /** Deliveries in flight at once. */
  concurrency?: number;
  /** Stand-in for `deliver` (tests of the notifier's own logic). */
  send?: (t: QueuedTarget, d: Delivery) => Promise<void>;
}

type TaskNotify = { notify?: NotifyTarget[]; notify_every?: number };

/**
 * Tells people what happened, from the controller's process without ever holding up its loop.
 * `tick()` turns new events of the log into deliveries in the store's outbox (one per event and
 * target, with a delivery id), queues each running job's cost report when it is due, and starts
 * the deliveries whose time has come in the background. A delivery that fails is retried with
 * backoff; one in flight when the controller dies is retried by the next: at least once.
 */
export class Notifier {
  private readonly outbox: Outbox;
  private readonly inflight = new Map<string, Promise<void>>();
  private lastCostScan = 0;
  private readonly send: (t: QueuedTarget, d: Delivery) => Promise<void>;

  constructor(private readonly o: NotifierOptions) {
    this.outbox = new Outbox(o.store);
    this.send = o.send ?? deliver;
  }

  private now(): number {
    return this.o.clock.now();
  }

  async tick(): Promise<void> {
    await this.scan();
    if (this.now() - this.lastCostScan >= 1000) {
      this.lastCostScan = this.now();
      await this.costReports();
    }
    await this.startDue();
  }

  /** Whether deliveries are running or due within a minute (a controller leaving when idle waits for them). */
  async busy(): Promise<boolean> {
    return this.inflight.size > 0 || (await this.outbox.pendingWithin(this.now(), 60_000));
  }

  /** A last scan and the deliveries it makes, then wait up to `ms` for those in flight. */
  async stop(ms = 10_000): Promise<void> {
    await this.tick().catch((e) => this.o.logger.warn({ err: errorMessage(e) }, "notify: last pass failed"));
    const all = Promise.all([...this.inflight.values()]);
    await Promise.race([all, new Promise((r) => setTimeout(r, ms).unref())]);
  }

  private targetsOf(job: JobRow): { targets: QueuedTarget[]; everyMs: number | undefined } {
    const task = JSON.parse(job.task_json) as TaskNotify;
    const targets = [
      ...(task.notify ?? []).map((t) => ({ ...t, cwd: job.base_dir })),
      ...(this.o.userTargets ?? []).map((t) => ({ ...t, cwd: this.o.userCwd ?? process.cwd() })),
    ];
    return { targets, everyMs: task.notify_every ?? this.o.userEveryMs };
  }

  private async scan(): Promise<void> {
    let cursor = await this.outbox.cursor();
    if (cursor === undefined) {
      // The first notifier of this store starts at the end of the log: history is not news.
      await this.outbox.enqueue([], await lastEventSeq(this.o.store));
      return;
    }
    const events = await eventsAfter(this.o.store, cursor, 500);
    if (events.length === 0) return;
    const rows: OutboxRow[] = [];
    const jobs = new Map<string, JobRow | undefined>();
    for (const e of events) {
      cursor = e.seq;
      const d = JSON.parse(e.data) as Record<string, unknown>;
      const kind = notificationOf(e.kind, d);
      if (!kind) continue;
      if (!jobs.has(e.job_id)) jobs.set(e.job_id, await this.o.store.job(e.job_id));
      const job = jobs.get(e.job_id);
      if (!job) continue;
      rows.push(...(await this.rowsFor(job, kind, `n-${e.seq}`, { seq: e.seq, kind: e.kind, at: toIso(e.at), ...d })));
    }
    await this.outbox.enqueue(rows, cursor);
  }

  private async costReports(): Promise<void> {
    const rows: OutboxRow[] = [];
    for (const job of await this.o.store.jobs({ active: true })) {
      const { everyMs } = this.targetsOf(job);
      if (!everyMs) continue;
      const last = Math.max(await this.outbox.lastCostReport(job.id), job.created_at);
      if (this.now() - last < everyMs) continue;
      // One report per period of the job's life: the id is the same however many controllers look.
      const period = Math.floor((this.now() - job.created_at) / everyMs);
      rows.push(...(await this.rowsFor(job, "cost_report", `n-cost-${job.id}-${period}`, { period })));
    }
    if (rows.length) await this.outbox.enqueue(rows, (await this.outbox.cursor()) ?? 0);
  }

  private async rowsFor(job: JobRow, kind: NotifyKind, idBase: string, event: Record<string, unknown>): Promise<OutboxRow[]> {
    const { targets } = this.targetsOf(job);
    const chosen = targets.map((t, i) => ({ t, i })).filter(({ t }) => !t.on || t.on.includes(kind));
    if (!chosen.length) return [];
    const now = this.now();
    const cost = summarize(await this.o.store.instances({ jobId: job.id }), now);
    const summary = {
      id: job.id,
      name: job.name,
      state: job.state,
      array_id: job.array_id,
      attempts: job.attempt + 1,
      preemptions: job.preemptions,
      cost_usd: cost.cost_usd,
      on_demand_baseline_usd: cost.on_demand_baseline_usd,
      savings_usd: cost.savings_usd,
      savings_pct: cost.savings_pct,
    };
    const text = notificationText(kind, summary, event, formatUsd);
    return chosen.map(({ t, i }) => {
      const id = `${idBase}-${i}`;
      const payload = { delivery_id: id, kind, at: toIso(now), job: summary, event, text, terminal: isTerminalState(job.state) };
      return {
        id,
        job_id: job.id,
        kind,
        target_json: JSON.stringify(t),
        payload_json: JSON.stringify(payload),
        created_at: now,
        attempts: 0,
        next_at: now,
        claimed_until: 0,
        delivered_at: null,
        failed_at: null,
        last_error: null,
      };
    });
  }

  private async startDue(): Promise<void> {
    const room = (this.o.concurrency ?? 4) - this.inflight.size;
    if (room <= 0) return;
    const now = this.now();
    for (const row of await this.outbox.due(now, room, new Set(this.inflight.keys()))) {
      const target = JSON.parse(row.target_json) as QueuedTarget;
      if (!(await this.outbox.claim(row.id, now, now + target.timeout + 5000))) continue;
      const p = this.attempt(row, target).finally(() => this.inflight.delete(row.id));
      this.inflight.set(row.id, p);
    }
  }

  private async attempt(row: OutboxRow, target: QueuedTarget): Promise<void> {
    const payload = JSON.parse(row.payload_json) as { text: string };
    const attempts = row.attempts + 1;
    try {
      await this.send(target, { id: row.id, kind: row.kind, body: row.payload_json, text: payload.text });
      await this.outbox.delivered(row.id, this.now(), attempts);
    } catch (e) {
      const err = errorMessage(e);
      const giveUp = attempts >= MAX_ATTEMPTS;
      this.o.logger.warn(
        { delivery: row.id, attempts, err },
        giveUp ? "notify: giving up on a delivery" : "notify: delivery failed; will retry",
      );
      await this.outbox
        .failed(row.id, attempts, err, giveUp ? { gaveUpAt: this.now() } : { retryAt: this.now() + retryDelayMs(attempts) })
        .catch(() => {});
    }
  }
}
