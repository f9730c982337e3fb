import type { Sample } from "./store-watch.js";

/** Percentiles of latency samples; one the controller never took in makes the figure a lower bound. */
export interface Latency {
  n: number;
  /** How many of the n were taken in before the bench ended. */
  seen: number;
  p50_ms: number | null;
  p99_ms: number | null;
  max_ms: number | null;
  /** The p99 (or p50) fell on an event never taken in: the true figure is at least this. */
  p50_lower_bound: boolean;
  p99_lower_bound: boolean;
}

export function latency(samples: Sample[]): Latency {
  const s = [...samples].sort((a, b) => a.ms - b.ms);
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
  const p50 = at(0.5);
  const p99 = at(0.99);
  return {
    n: s.length,
    seen: s.filter((x) => x.seen).length,
    p50_ms: p50 ? Math.round(p50.ms) : null,
    p99_ms: p99 ? Math.round(p99.ms) : null,
    max_ms: s.length ? Math.round((s.at(-1) as Sample).ms) : null,
    p50_lower_bound: p50 ? !p50.seen : false,
    p99_lower_bound: p99 ? !p99.seen : false,
  };
}

/** One row of the steady-state table: counts over `seconds`, and their per-minute rate. */
export interface MinuteRow {
  minute: number;
  /** When it began (ms). */
  from: number;
  seconds: number;
  describe_instances: number;
  /** DescribeInstances by what they asked for: one instance id, a batch, a tag filter (the reaper, a shared list)… */
  describe_by_shape: Record<string, number>;
  other_ec2: number;
  other_ec2_by_action: Record<string, number>;
  ec2_errors: number;
  /** Execs and file reads on instances whose agent is running (bootstrap ones are apart). */
  execs: number;
  reads: number;
  writes: number;
  bootstrap_execs: number;
  channels_opened: number;
  open_channels_max: number;
  open_transports: number;
  streams_open: number;
  event_to_store: Latency;
  rss_mb: number;
  heap_mb: number;
  /** CPU of the bench process (controller, fake agents, store watch) in % of one core, and of the EC2 server's process. */
  cpu_pct: number;
  ec2_server_cpu_pct: number;
  load_avg_1m: number;
}

export const perMinute = (n: number, seconds: number) => (seconds > 0 ? (n * 60) / seconds : 0);

const ms = (v: number | null, lower: boolean) => (v === null ? "—" : `${lower ? "≥" : ""}${v.toLocaleString("en-US")}`);
const num = (v: number) => Math.round(v).toLocaleString("en-US");

/** The steady-state table: every figure per minute (a partial minute scaled), load average beside. */
export function minuteTable(rows: MinuteRow[]): string {
  const head = [
    "min",
    "DescribeInstances",
    "other EC2",
    "EC2 errors",
    "execs",
    "reads",
    "channels",
    "open ch (max)",
    "visit p50 ms",
    "visit p99 ms",
    "RSS MB",
    "CPU %",
    "EC2 srv CPU %",
    "load 1m",
  ];
  const body = rows.map((r) => {
    const pm = (n: number) => num(perMinute(n, r.seconds));
    return [
      `${r.minute}${r.seconds < 59.5 ? ` (${Math.round(r.seconds)} s, scaled)` : ""}`,
      pm(r.describe_instances),
      pm(r.other_ec2),
      pm(r.ec2_errors),
      pm(r.execs),
      pm(r.reads),
      pm(r.channels_opened),
      num(r.open_channels_max),
      ms(r.event_to_store.p50_ms, r.event_to_store.p50_lower_bound),
      ms(r.event_to_store.p99_ms, r.event_to_store.p99_lower_bound),
      num(r.rss_mb),
      num(r.cpu_pct),
      num(r.ec2_server_cpu_pct),
      r.load_avg_1m.toFixed(2),
    ];
  });
  return table([head, ...body]);
}

export function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  return rows
    .map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("  "))
    .join("\n");
}

export const fmtMs = (l: Latency) =>
  l.n === 0
    ? "—"
    : `p50 ${ms(l.p50_ms, l.p50_lower_bound)} ms, p99 ${ms(l.p99_ms, l.p99_lower_bound)} ms (${l.seen}/${l.n} seen)`;

/** `now ÷ before` as `0.01×`, or a dash when either is missing or zero. */
export function ratio(now: number | null | undefined, before: number | null | undefined): string {
  if (now === null || now === undefined || before === null || before === undefined || before === 0) return "—";
  const r = now / before;
  return `${r < 0.01 ? r.toExponential(1) : r < 10 ? r.toFixed(2) : r.toFixed(0)}×`;
}
