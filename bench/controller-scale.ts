/**
 * The controller at cloud scale (issue 13): N managed spot jobs on AWS, the real controller and
 * AwsProvider (real EC2Client, SigV4 checked) against the in-repo EC2 server in a process of its
 * own, and instances that "run" without machines: the provider's transport reaches in-memory fake
 * agents and counts what SSH would cost. Time to steady state (every job RUNNING), then per minute
 * of steady state: DescribeInstances and other EC2 calls (counted at the server), execs and file
 * reads, channels, visit latency (a fake agent's checkpoint event → its row in the store), RSS and
 * CPU, with the load average beside each; and notice → reaction (the notice's row in the store)
 * for notices injected during the window. The controller is driven only through its constructor
 * and run(), and observed only through the store, so the same bench measures it before and after
 * a rewrite; --before prints the ratio to an earlier run's figures.
 *
 *   node dist/bench/controller-scale.js [--jobs 1000] [--minutes 3 | --seconds S] [--notices 100]
 *     [--json] [--out FILE] [--before FILE] [--label NAME] [--setup-timeout 1800] [--grace 120] [--no-ec2-throttle] [--debug]
 *
 * The EC2 server throttles as EC2 does (a bucket of 100, 20 a second, per action) unless
 * --no-ec2-throttle; throttled answers show as EC2 errors per minute. Build first:
 * `npx tsc -p tsconfig.json && node scripts/build-agent.mjs`.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { pino } from "pino";
import { systemClock } from "../src/base/clock.js";
import { silentLogger } from "../src/base/logger.js";
import { Controller } from "../src/core/controller.js";
import { submitJob } from "../src/core/submit.js";
import { AwsProvider, type AwsProviderOptions } from "../src/providers/aws/aws-provider.js";
import type { InstanceInfo } from "../src/providers/provider.js";
import { loadTaskObject } from "../src/spec/load-task.js";
import { openSqlite } from "../src/state/open-sqlite.js";
import { StateStore } from "../src/state/state-store.js";
import type { Transport } from "../src/transport/transport.js";
import { FixedProviders } from "../test/support-cloud/managed-job-kit.js";
import { Ec2Child } from "./controller-scale/ec2-child.js";
import type { ChildCounts } from "./controller-scale/ec2-server-child.js";
import { type CountsSnapshot, FakeFleet } from "./controller-scale/fake-fleet.js";
import {
  fmtMs,
  type Latency,
  latency,
  type MinuteRow,
  minuteTable,
  perMinute,
  ratio,
  table,
} from "./controller-scale/figures.js";
import { type Sample, StoreWatch } from "./controller-scale/store-watch.js";

function fail(what: string, fix: string): never {
  process.stderr.write(`spotrun: ${what} — ${fix}\n`);
  process.exit(2);
}

const { values: a } = (() => {
  try {
    return parseArgs({
      options: {
        jobs: { type: "string", default: "1000" },
        minutes: { type: "string" },
        seconds: { type: "string" },
        warmup: { type: "string", default: "10" },
        notices: { type: "string", default: "100" },
        "checkpoint-every": { type: "string", default: "60" },
        "setup-timeout": { type: "string", default: "1800" },
        grace: { type: "string", default: "120" },
        json: { type: "boolean", default: false },
        out: { type: "string" },
        before: { type: "string" },
        label: { type: "string", default: "" },
        keep: { type: "boolean", default: false },
        "no-ec2-throttle": { type: "boolean", default: false },
        debug: { type: "boolean", default: false },
      },
      strict: true,
    });
  } catch (e) {
    fail(
      (e as Error).message,
      "run with --jobs N [--minutes M | --seconds S] [--json] (see the header of bench/controller-scale.ts)",
    );
  }
})();
const positive = (name: string, v: string | undefined, max: number): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || n > max)
    fail(`--${name} ${v} is not a number in (0, ${max}]`, `give --${name} a number up to ${max}`);
  return n;
};
const JOBS = Math.round(positive("jobs", a.jobs, 10_000));
if (a.minutes !== undefined && a.seconds !== undefined) fail("--minutes and --seconds both given", "give one of them");
const WINDOW_S =
  a.seconds !== undefined ? positive("seconds", a.seconds, 86_400) : 60 * positive("minutes", a.minutes ?? "3", 1440);
const WARMUP_S = a.warmup === "0" ? 0 : positive("warmup", a.warmup, 3600);
const NOTICES = a.notices === "0" ? 0 : Math.round(positive("notices", a.notices, JOBS));
const CHECKPOINT_EVERY_S = positive("checkpoint-every", a["checkpoint-every"], 3600);
const SETUP_TIMEOUT_S = positive("setup-timeout", a["setup-timeout"], 86_400);
/** After the window, how long events written in it may still take to reach the store (their latency only). */
const GRACE_S = a.grace === "0" ? 0 : positive("grace", a.grace, 3600);
if (a.before && !existsSync(a.before)) fail(`--before ${a.before} does not exist`, "give a file an earlier --out wrote");

const TEST_KEYS = { accessKeyId: "AKIASPOTRUNBENCH0001", secretAccessKey: "spotrun/bench/secret/key/00000000000000" };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mb = (b: number) => b / 1048576;
const load1 = () => Number((loadavg()[0] ?? 0).toFixed(2));

/** The AwsProvider of the integration tests, whose instances are reached through the fake fleet. */
class BenchAwsProvider extends AwsProvider {
  constructor(
    opts: AwsProviderOptions,
    private readonly machines: FakeFleet,
  ) {
    super(opts);
  }
  override async transport(info: InstanceInfo): Promise<Transport> {
    return this.machines.transport(info);
  }
}

/** Warnings the controller logged, by message (and error), so a run that struggles says why. */
const warnings = new Map<string, number>();
const logger = pino(
  { level: a.debug ? "info" : "warn", base: undefined },
  {
    write(line: string) {
      if (a.debug) process.stderr.write(line);
      const o = JSON.parse(line) as { level: number; msg?: string; err?: unknown };
      if (o.level < 40) return;
      const key = `${o.msg ?? ""}${o.err ? `: ${String(o.err).slice(0, 160)}` : ""}`;
      warnings.set(key, (warnings.get(key) ?? 0) + 1);
    },
  },
);

/** Read now: what was built and run, even if the checkout moves on while the bench runs. */
const commit = gitCommit();
const progress = (s: string) => process.stderr.write(`[controller-scale] ${s}\n`);
const home = await mkdtemp(join(tmpdir(), "spotrun-bench-scale-"));
// The bench must stop by itself, whatever the controller does.
const budgetMs = (SETUP_TIMEOUT_S + WARMUP_S + WINDOW_S + GRACE_S + 120) * 1000;
const watchdog = setTimeout(() => {
  progress(`still running ${Math.round(budgetMs / 1000)} s after the start: giving up`);
  if (!a.keep) rmSync(home, { recursive: true, force: true });
  process.exit(3);
}, budgetMs);
watchdog.unref();
// Interrupted: no figures, but nothing left behind (the EC2 server process leaves with its IPC channel).
for (const sig of ["SIGINT", "SIGTERM"] as const)
  process.once(sig, () => {
    if (!a.keep) rmSync(home, { recursive: true, force: true });
    process.exit(130);
  });

const ec2 = await Ec2Child.start(TEST_KEYS.accessKeyId, TEST_KEYS.secretAccessKey, !a["no-ec2-throttle"]);
delete process.env.AWS_PROFILE;
delete process.env.AWS_ENDPOINT_URL;
process.env.AWS_ENDPOINT_URL_EC2 = ec2.url;
process.env.AWS_REGION = "us-east-1";
process.env.AWS_ACCESS_KEY_ID = TEST_KEYS.accessKeyId;
process.env.AWS_SECRET_ACCESS_KEY = TEST_KEYS.secretAccessKey;
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

const store = new StateStore(await openSqlite(home));
const reader = await openSqlite(home);
const watch = new StoreWatch(reader);
const fleet = new FakeFleet({
  checkpointEveryMs: CHECKPOINT_EVERY_S * 1000,
  onCheckpoint: (_job, generation, at) => watch.expectCheckpoint(generation, at),
  random: Math.random,
});
const provider = new BenchAwsProvider({ home, logger: silentLogger, spotrunVersion: "0.1.0" }, fleet);

let outcome = "ok";
let controllerError: unknown;
const timers: NodeJS.Timeout[] = [];
const ac = new AbortController();
let run: Promise<unknown> | undefined;
try {
  const loaded = loadTaskObject(
    {
      name: "scale",
      run: "python3 train.py",
      resources: { provider: "aws", instance_type: "m7i.large", spot: true, max_price: 0.05 },
      array: { count: JOBS },
    },
    { name: "bench task", baseDir: home },
  );
  await submitJob(store, loaded, home, systemClock);
  await watch.init();

  const controller = new Controller({ store, providers: new FixedProviders(provider), home, clock: systemClock, logger });
  const t0 = Date.now();
  run = controller.run({ signal: ac.signal }).catch((e) => {
    controllerError = e;
  });

  // The fake agents' clock, the store watch and the RSS high-water mark, each on one timer.
  timers.push(setInterval(() => fleet.tick(Date.now()), 250));
  let rssMax = 0;
  const sampleRss = () => {
    rssMax = Math.max(rssMax, process.memoryUsage().rss);
  };
  timers.push(setInterval(sampleRss, 1000));
  let polling = false;
  let pendingNotices: number[] = [];
  timers.push(
    setInterval(() => {
      if (polling) return;
      polling = true;
      const now = Date.now();
      while (pendingNotices.length && (pendingNotices[0] as number) <= now) {
        pendingNotices.shift();
        const job = fleet.injectNotice(now);
        if (job) watch.expectNotice(job, now);
      }
      watch
        .poll()
        .catch((e) => progress(`store watch: ${(e as Error).message}`))
        .finally(() => {
          polling = false;
        });
    }, 50),
  );

  // 1. Every job from PENDING to RUNNING.
  let states: Record<string, number> = {};
  let lastSay = 0;
  /** Seconds from the start until this share of the jobs was RUNNING. */
  const runningAt: Record<string, number> = {};
  const marks = [0.1, 0.5, 0.9, 1];
  for (;;) {
    states = await watch.states();
    const now = Date.now();
    for (const m of marks)
      if (runningAt[`${m * 100}%`] === undefined && (states.RUNNING ?? 0) >= Math.ceil(m * JOBS))
        runningAt[`${m * 100}%`] = Math.round((now - t0) / 100) / 10;
    if ((states.RUNNING ?? 0) >= JOBS || controllerError) break;
    if (now - t0 > SETUP_TIMEOUT_S * 1000) {
      outcome = "setup-timeout";
      break;
    }
    if (now - lastSay >= 15_000) {
      lastSay = now;
      progress(
        `${Math.round((now - t0) / 1000)} s: ${JSON.stringify(states)}; load ${load1()}; RSS ${Math.round(mb(process.memoryUsage().rss))} MB`,
      );
    }
    await sleep(500);
  }
  const setupMs = Date.now() - t0;
  const setupEc2 = await ec2.counts();
  const setupCounts = fleet.counts.snapshot();
  const setupLoad = load1();
  if (controllerError) outcome = `controller-failed: ${String((controllerError as Error)?.message ?? controllerError)}`;
  progress(
    `${outcome === "ok" ? "steady" : outcome} after ${(setupMs / 1000).toFixed(1)} s: ${JSON.stringify(states)}; load ${setupLoad}`,
  );

  // 2. The steady window, minute by minute; notices spread over its first 80%. A setup that timed
  // out is measured all the same (as not steady), so a run that cannot get there still says what it costs.
  const runningAtWindow = states.RUNNING ?? 0;
  const rows: MinuteRow[] = [];
  let windowStart = Date.now();
  let windowEnd = windowStart;
  const checkpointsInWindow: Sample[] = [];
  if (outcome === "ok" || outcome === "setup-timeout") {
    await sleep(WARMUP_S * 1000);
    windowStart = Date.now();
    const spacing = (0.8 * WINDOW_S * 1000) / Math.max(1, NOTICES);
    pendingNotices = Array.from({ length: NOTICES }, (_, i) => windowStart + (i + 0.5) * spacing);
    const mark = async () => ({
      t: Date.now(),
      ec2: await ec2.counts(),
      fleet: fleet.counts.snapshot(),
      cpu: process.cpuUsage(),
    });
    let from = await mark();
    fleet.counts.takeMax();
    const end = windowStart + WINDOW_S * 1000;
    for (let minute = 1; from.t < end && !controllerError; minute++) {
      await sleep(Math.min(60_000, end - from.t));
      sampleRss();
      const to = await mark();
      rows.push(row(minute, from, to));
      const r = rows.at(-1) as MinuteRow;
      progress(
        `minute ${minute}: DescribeInstances ${r.describe_instances}, other EC2 ${r.other_ec2}, execs ${r.execs}, reads ${r.reads}, streams open ${r.streams_open}; load ${r.load_avg_1m}`,
      );
      from = to;
    }
    windowEnd = from.t;
    // Events of the window still on their way get a grace period for their latency; nothing is counted in it.
    const graceEnd = Date.now() + GRACE_S * 1000;
    while ((watch.noticesPending > 0 || watch.checkpointsPendingBefore(windowEnd) > 0) && Date.now() < graceEnd) await sleep(100);
    await watch.poll();
    const all = watch.all(Date.now()).checkpoints;
    checkpointsInWindow.push(...all.filter((s) => s.at >= windowStart && s.at < windowEnd));
    for (const r of rows) r.event_to_store = latency(all.filter((s) => s.at >= r.from && s.at < r.from + r.seconds * 1000));
  }
  const notices = { injected: watch.notices.length + watch.noticesPending, ...latency(watch.all(Date.now()).notices) };
  const result = {
    bench: "controller-scale",
    label: a.label,
    jobs: JOBS,
    outcome,
    started_at: new Date(t0).toISOString(),
    commit,
    node: process.version,
    cpus: cpus().length,
    options: {
      window_s: WINDOW_S,
      warmup_s: WARMUP_S,
      notices: NOTICES,
      checkpoint_every_s: CHECKPOINT_EVERY_S,
      ec2_throttle: !a["no-ec2-throttle"],
      api_share: process.env.SPOTRUN_API_SHARE ?? null,
    },
    setup: {
      reached: outcome === "ok",
      ms: setupMs,
      states,
      running_at_s: runningAt,
      load_avg_1m: setupLoad,
      ec2_calls: setupEc2.byAction,
      ec2_errors: setupEc2.errors,
      bootstrap: {
        execs: setupCounts.execs.bootstrap,
        reads: setupCounts.reads.bootstrap,
        writes: setupCounts.writes.bootstrap,
        transfers: setupCounts.transfers,
        execs_per_instance: Number((setupCounts.execs.bootstrap / Math.max(1, fleet.running)).toFixed(2)),
      },
    },
    steady: rows.length ? { steady: outcome === "ok", running: runningAtWindow, ...summary(rows, checkpointsInWindow) } : null,
    notices,
    rss_max_mb: Math.round(mb(rssMax)),
    warnings: Object.fromEntries([...warnings.entries()].sort((x, y) => y[1] - x[1]).slice(0, 20)),
  };
  report(result, rows);
  if (a.out) await saveRun(a.out, result);
} finally {
  for (const t of timers) clearInterval(t);
  ac.abort();
  const stopped = await Promise.race([run?.then(() => true), sleep(30_000).then(() => false)]);
  if (!stopped) progress("the controller did not stop within 30 s of the abort");
  await provider.close().catch(() => {});
  await ec2.stop().catch(() => {});
  await reader.destroy().catch(() => {});
  await store.close().catch(() => {});
  if (a.keep) progress(`kept ${home}`);
  else await rm(home, { recursive: true, force: true });
}
process.exit(outcome === "ok" ? 0 : 1);

type Mark = { t: number; ec2: ChildCounts; fleet: CountsSnapshot; cpu: NodeJS.CpuUsage };

/** A minute's counts; its latency is filled in at the end, once its events have had time to arrive. */
function row(minute: number, from: Mark, to: Mark): MinuteRow {
  const seconds = (to.t - from.t) / 1000;
  const d = (k: string) => (to.ec2.byAction[k] ?? 0) - (from.ec2.byAction[k] ?? 0);
  const other: Record<string, number> = {};
  for (const k of Object.keys(to.ec2.byAction)) if (k !== "DescribeInstances" && d(k) > 0) other[k] = d(k);
  const errs =
    Object.values(to.ec2.errors).reduce((x, y) => x + y, 0) - Object.values(from.ec2.errors).reduce((x, y) => x + y, 0);
  const cpu = to.cpu.user + to.cpu.system - from.cpu.user - from.cpu.system;
  const mem = process.memoryUsage();
  return {
    minute,
    from: from.t,
    seconds,
    describe_instances: d("DescribeInstances"),
    describe_by_shape: Object.fromEntries(
      Object.entries(to.ec2.describeShapes)
        .map(([k, v]) => [k, v - (from.ec2.describeShapes[k] ?? 0)] as const)
        .filter(([, v]) => v > 0),
    ),
    other_ec2: Object.values(other).reduce((x, y) => x + y, 0),
    other_ec2_by_action: other,
    ec2_errors: errs,
    execs: to.fleet.execs.steady - from.fleet.execs.steady,
    reads: to.fleet.reads.steady - from.fleet.reads.steady,
    writes: to.fleet.writes.steady - from.fleet.writes.steady,
    bootstrap_execs: to.fleet.execs.bootstrap - from.fleet.execs.bootstrap,
    channels_opened: to.fleet.channelsOpened - from.fleet.channelsOpened,
    open_channels_max: fleet.counts.takeMax(),
    open_transports: to.fleet.transportsOpen,
    streams_open: to.fleet.streamsOpen,
    event_to_store: latency([]),
    rss_mb: Math.round(mb(mem.rss)),
    heap_mb: Math.round(mb(mem.heapUsed)),
    cpu_pct: Math.round(cpu / 1e4 / seconds),
    ec2_server_cpu_pct: Math.round((to.ec2.cpuMicros - from.ec2.cpuMicros) / 1e4 / seconds),
    load_avg_1m: load1(),
  };
}

/** The whole window per minute, and its visit latency over every checkpoint written in it. */
function summary(rows: MinuteRow[], checkpoints: Sample[]) {
  const seconds = rows.reduce((x, r) => x + r.seconds, 0);
  const sum = (k: keyof MinuteRow) => rows.reduce((x, r) => x + (r[k] as number), 0);
  const pm = (k: keyof MinuteRow) => Number(perMinute(sum(k), seconds).toFixed(1));
  return {
    seconds: Number(seconds.toFixed(1)),
    per_minute: {
      describe_instances: pm("describe_instances"),
      other_ec2: pm("other_ec2"),
      ec2_calls: Number(perMinute(sum("describe_instances") + sum("other_ec2"), seconds).toFixed(1)),
      execs: pm("execs"),
      execs_per_job: Number((perMinute(sum("execs"), seconds) / JOBS).toFixed(3)),
      // Over SSH a file read or write is an exec too (`tail -c +N`, `cat >`): what issue 13's "SSH execs" counts.
      ssh_execs_per_job: Number((perMinute(sum("execs") + sum("reads") + sum("writes"), seconds) / JOBS).toFixed(3)),
      reads: pm("reads"),
      writes: pm("writes"),
      channels_opened: pm("channels_opened"),
      ec2_errors: pm("ec2_errors"),
    },
    open_channels_max: Math.max(0, ...rows.map((r) => r.open_channels_max)),
    open_transports: rows.at(-1)?.open_transports ?? 0,
    streams_open: rows.at(-1)?.streams_open ?? 0,
    event_to_store: latency(checkpoints),
    rss_mb_max: Math.max(0, ...rows.map((r) => r.rss_mb)),
    cpu_pct: Math.round(rows.reduce((x, r) => x + r.cpu_pct * r.seconds, 0) / Math.max(1, seconds)),
    // Each minute has its own; the mean is for the one-line summary (an array would not survive biome's JSON format).
    load_avg_1m_mean: Number((rows.reduce((x, r) => x + r.load_avg_1m, 0) / Math.max(1, rows.length)).toFixed(2)),
    minutes: rows,
  };
}

type Result = {
  jobs: number;
  started_at: string;
  outcome: string;
  label: string;
  setup: {
    reached: boolean;
    ms: number;
    load_avg_1m: number;
    ec2_calls: Record<string, number>;
    ec2_errors: Record<string, number>;
    running_at_s: Record<string, number>;
    bootstrap: { execs: number; execs_per_instance: number };
  };
  steady: ({ steady: boolean; running: number } & ReturnType<typeof summary>) | null;
  notices: Latency & { injected: number };
  rss_max_mb: number;
  warnings: Record<string, number>;
};

function report(r: Result, rows: MinuteRow[]): void {
  if (a.json) {
    process.stdout.write(`${JSON.stringify(r, null, 1)}\n`);
    return;
  }
  const out: string[] = [];
  out.push(
    `controller scale: ${JOBS.toLocaleString("en-US")} AWS spot jobs, real controller + AwsProvider (EC2Client, SigV4) against the in-repo EC2 server in its own process; fake agents behind a counting transport`,
  );
  out.push(
    `  time to steady state (all RUNNING): ${r.setup.reached ? `${(r.setup.ms / 1000).toFixed(1)} s` : `not reached (${r.outcome}) after ${(r.setup.ms / 1000).toFixed(0)} s`}; RUNNING at ${
      Object.entries(r.setup.running_at_s)
        .map(([k, v]) => `${k} ${v} s`)
        .join(", ") || "—"
    }  [load ${r.setup.load_avg_1m}]`,
  );
  out.push(
    `  setup EC2 calls: ${Object.entries(r.setup.ec2_calls)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}`,
  );
  if (Object.keys(r.setup.ec2_errors).length)
    out.push(
      `  setup EC2 errors: ${Object.entries(r.setup.ec2_errors)
        .map(([k, v]) => `${k} ${v}`)
        .join(", ")}`,
    );
  out.push(
    `  bootstrap: ${r.setup.bootstrap.execs} execs (${r.setup.bootstrap.execs_per_instance} per instance), counted apart from steady state`,
  );
  if (r.steady) {
    const s = r.steady;
    out.push(
      s.steady
        ? `  steady state, ${s.seconds.toFixed(0)} s (figures per minute):`
        : `  NOT steady (${s.running}/${JOBS} RUNNING when the window began), ${s.seconds.toFixed(0)} s (figures per minute):`,
    );
    out.push(minuteTable(rows).replace(/^/gm, "    "));
    const pmRow = s.per_minute;
    out.push(
      `  per minute over the window: DescribeInstances ${pmRow.describe_instances}, other EC2 ${pmRow.other_ec2}, execs ${pmRow.execs} (${pmRow.execs_per_job} per job), reads ${pmRow.reads}, channels ${pmRow.channels_opened}; open channels max ${s.open_channels_max}, transports open ${s.open_transports}, streams open ${s.streams_open}`,
    );
    const shapes: Record<string, number> = {};
    for (const m of s.minutes) for (const [k, v] of Object.entries(m.describe_by_shape)) shapes[k] = (shapes[k] ?? 0) + v;
    out.push(
      `  DescribeInstances by what they asked (whole window): ${Object.entries(shapes)
        .map(([k, v]) => `${k} ${v}`)
        .join(", ")}`,
    );
    out.push(`  visit latency (agent checkpoint event → its row in the store): ${fmtMs(s.event_to_store)}`);
  }
  out.push(`  notice → reaction (notice event → its row in the store), ${r.notices.injected} injected: ${fmtMs(r.notices)}`);
  out.push(
    `  RSS max ${r.rss_max_mb} MB; load average (1 min) per row above, ${loadavg()
      .map((x) => x.toFixed(2))
      .join(" ")} now; ${cpus().length} cores`,
  );
  if (Object.keys(r.warnings).length)
    out.push(
      `  controller warnings: ${Object.entries(r.warnings)
        .slice(0, 5)
        .map(([k, v]) => `${v}× ${k}`)
        .join("; ")}`,
    );
  out.push(...comparison(r));
  process.stdout.write(`${out.join("\n")}\n`);
}

/** Issue 13's targets, and the ratio to an earlier run at the same job count (--before). */
function comparison(r: Result): string[] {
  const before = a.before ? loadRuns(a.before).find((x) => x.jobs === r.jobs) : undefined;
  const s = r.steady;
  const b = before?.steady;
  const rows: string[][] = [
    ["figure", "this run", "target (issue 13)", before ? `before (${before.label || before.started_at})` : "before", "ratio"],
  ];
  const add = (name: string, now: number | null | undefined, target: string, was: number | null | undefined) =>
    rows.push([
      name,
      now === null || now === undefined ? "—" : String(now),
      target,
      was === null || was === undefined ? "—" : String(was),
      ratio(now, was),
    ]);
  add(
    "time to steady state, s",
    r.setup.reached ? Math.round(r.setup.ms / 1000) : null,
    "",
    before?.setup.reached ? Math.round(before.setup.ms / 1000) : null,
  );
  add("EC2 calls per minute", s?.per_minute.ec2_calls, "≤ 12 per region, not growing with N", b?.per_minute.ec2_calls);
  add("  DescribeInstances per minute", s?.per_minute.describe_instances, "", b?.per_minute.describe_instances);
  add("SSH execs (exec, read, write) per job per minute", s?.per_minute.ssh_execs_per_job, "0", b?.per_minute.ssh_execs_per_job);
  add("  of which execs", s?.per_minute.execs_per_job, "", b?.per_minute.execs_per_job);
  add("file reads per minute", s?.per_minute.reads, "", b?.per_minute.reads);
  add("visit latency p99, ms", s?.event_to_store.p99_ms, "", b?.event_to_store.p99_ms);
  add("notice → reaction p99, ms", r.notices.p99_ms, "≤ 1000", before?.notices.p99_ms);
  add("RSS max, MB", r.rss_max_mb, r.jobs >= 10_000 ? "< 1024" : "", before?.rss_max_mb);
  return ["", table(rows).replace(/^/gm, "  ")];
}

function loadRuns(path: string): Result[] {
  const doc = JSON.parse(readFileSync(path, "utf8")) as { runs?: Result[] };
  return doc.runs ?? [];
}

/** Keep one run per job count (and label) in the file: the newest replaces the older. */
async function saveRun(path: string, r: Result): Promise<void> {
  const runs = existsSync(path) ? loadRuns(path).filter((x) => x.jobs !== r.jobs || x.label !== r.label) : [];
  runs.push(r);
  runs.sort((x, y) => x.jobs - y.jobs);
  await mkdir(dirname(path), { recursive: true });
  // Two-space JSON, as biome formats it (the file lives under bench/, which biome checks).
  await writeFile(path, `${JSON.stringify({ bench: "controller-scale", runs }, null, 2)}\n`);
}

function gitCommit(): string | null {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
  } catch {
    return null;
  }
}
