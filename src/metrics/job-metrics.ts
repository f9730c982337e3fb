import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { JobId } from "../base/ids.js";
import { JOB_STATES } from "../core/job-state.js";
import { summarize } from "../cost/ledger.js";
import { eventsAfter, jobCountsByState } from "../state/event-feed.js";
import type { EventRow, StateStore } from "../state/state-store.js";

type Where = { provider: string; region: string; instance_type: string };
const WHERE = ["provider", "region", "instance_type"] as const;

/**
 * Prometheus metrics as a view over the store and its event log: nothing in the controller calls
 * this. Each scrape reads the events appended since the last one (a cursor on their sequence) and
 * moves the counters and histograms by them; gauges and the USD counters are read from the store
 * as they are now. A fresh process reads the whole log once, so its counters start at the store's
 * totals (Prometheus sees a reset, which rate() handles).
 */
export class JobMetrics {
  readonly registry = new Registry();
  private cursor = 0;
  /** Per job: where it runs (the task's provider and region), and each attempt's instance type. */
  private readonly jobs = new Map<string, { provider: string; region: string; types: Map<number, string> }>();
  /** Per job: when its last attempt was preempted (the start of a recovery), and the notice it saw. */
  private readonly down = new Map<string, number>();
  private readonly noticeSeen = new Map<string, number>();

  private readonly jobsByState = new Gauge({
    name: "spotrun_jobs",
    help: "Managed jobs by state",
    labelNames: ["state"],
    registers: [this.registry],
  });
  private readonly preemptions = new Counter({
    name: "spotrun_preemptions_total",
    help: "Attempts ended by a spot interruption (or a lost instance)",
    labelNames: [...WHERE, "end"],
    registers: [this.registry],
  });
  private readonly recoveries = new Counter({
    name: "spotrun_recoveries_total",
    help: "Runs resumed on new capacity after a preemption",
    labelNames: WHERE,
    registers: [this.registry],
  });
  private readonly downtime = new Histogram({
    name: "spotrun_recovery_downtime_seconds",
    help: "From an attempt's preemption to the next attempt's run starting",
    labelNames: WHERE,
    buckets: [1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600],
    registers: [this.registry],
  });
  private readonly noticeToHook = new Histogram({
    name: "spotrun_notice_to_hook_seconds",
    help: "From the agent seeing an interruption notice to the checkpoint hook (or SIGTERM) starting",
    labelNames: ["provider"],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
    registers: [this.registry],
  });
  private readonly checkpointBytes = new Counter({
    name: "spotrun_checkpoint_bytes_total",
    help: "Bytes of checkpoint generations uploaded",
    labelNames: ["provider", "reason"],
    registers: [this.registry],
  });
  private readonly uploadSeconds = new Histogram({
    name: "spotrun_checkpoint_upload_seconds",
    help: "Time to upload one checkpoint generation",
    labelNames: ["provider", "reason"],
    buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900],
    registers: [this.registry],
  });
  private readonly spend = new Counter({
    name: "spotrun_spend_usd_total",
    help: "What the instances of managed jobs have cost so far (price x seconds), USD",
    labelNames: ["provider"],
    registers: [this.registry],
  });
  private readonly baseline = new Counter({
    name: "spotrun_on_demand_baseline_usd_total",
    help: "What the same instance seconds would have cost on demand, USD",
    labelNames: ["provider"],
    registers: [this.registry],
  });

  constructor(
    private readonly store: StateStore,
    private readonly now: () => number = Date.now,
  ) {
    for (const s of JOB_STATES) this.jobsByState.set({ state: s }, 0);
  }

  /** The exposition, up to date with the store. */
  async render(): Promise<string> {
    await this.refresh();
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  async refresh(): Promise<void> {
    for (;;) {
      const rows = await eventsAfter(this.store, this.cursor);
      for (const e of rows) await this.apply(e);
      if (rows.length) this.cursor = Number(rows[rows.length - 1]?.seq);
      if (rows.length < 5000) break;
    }
    const counts = await jobCountsByState(this.store);
    for (const s of JOB_STATES) this.jobsByState.set({ state: s }, counts[s] ?? 0);
    // Spend only grows: set the counters to the ledger's totals as of now.
    const byProvider = new Map<string, Parameters<typeof summarize>[0]>();
    for (const i of await this.store.instances()) byProvider.set(i.provider, [...(byProvider.get(i.provider) ?? []), i]);
    this.spend.reset();
    this.baseline.reset();
    for (const [provider, list] of byProvider) {
      const s = summarize(list, this.now());
      this.spend.inc({ provider }, s.cost_usd);
      this.baseline.inc({ provider }, s.on_demand_baseline_usd);
    }
  }

  private async where(jobId: JobId, attempt: number | undefined): Promise<Where> {
    let j = this.jobs.get(jobId);
    if (!j) {
      const row = await this.store.job(jobId);
      const task = row
        ? (JSON.parse(row.task_json) as { resources?: { provider?: string; region?: string; zone?: string } })
        : {};
      j = {
        provider: task.resources?.provider ?? "local",
        region: task.resources?.region ?? task.resources?.zone ?? "",
        types: new Map(),
      };
      this.jobs.set(jobId, j);
    }
    return { provider: j.provider, region: j.region, instance_type: (attempt !== undefined && j.types.get(attempt)) || "" };
  }

  private async apply(e: EventRow): Promise<void> {
    const d = JSON.parse(e.data) as Record<string, unknown>;
    const attempt = typeof d.attempt === "number" ? d.attempt : undefined;
    switch (e.kind) {
      case "attempt_started": {
        await this.where(e.job_id, undefined);
        this.jobs.get(e.job_id)?.types.set(Number(d.attempt), String(d.instance_type));
        return;
      }
      case "instance_launched": {
        // A task that names no region runs where the provider put it: label it with that zone.
        await this.where(e.job_id, undefined);
        const j = this.jobs.get(e.job_id);
        if (j && !j.region && typeof d.zone === "string") j.region = d.zone;
        return;
      }
      case "attempt_ended": {
        if (d.end !== "preempted" && d.end !== "lost") return;
        this.preemptions.inc({ ...(await this.where(e.job_id, attempt)), end: String(d.end) });
        this.down.set(e.job_id, e.at);
        return;
      }
      case "run_started": {
        const since = this.down.get(e.job_id);
        if (!d.restart || since === undefined) return;
        this.down.delete(e.job_id);
        const w = await this.where(e.job_id, attempt);
        this.recoveries.inc(w);
        this.downtime.observe(w, Math.max(0, e.at - since) / 1000);
        return;
      }
      case "notice": {
        const seen = Date.parse(String(d.seen_at));
        if (!Number.isNaN(seen)) this.noticeSeen.set(e.job_id, seen);
        return;
      }
      case "hook_ran": {
        const seen = this.noticeSeen.get(e.job_id);
        if (seen === undefined) return;
        this.noticeSeen.delete(e.job_id);
        // The event is stamped when the hook finished; it started `ms` before that.
        const started = e.at - Number(d.ms ?? 0);
        this.noticeToHook.observe(
          { provider: (await this.where(e.job_id, attempt)).provider },
          Math.max(0, started - seen) / 1000,
        );
        return;
      }
      case "checkpoint_uploaded": {
        const labels = { provider: (await this.where(e.job_id, attempt)).provider, reason: String(d.reason) };
        this.checkpointBytes.inc(labels, Number(d.bytes ?? 0));
        this.uploadSeconds.observe(labels, Number(d.ms ?? 0) / 1000);
        return;
      }
      default:
        return;
    }
  }
}
