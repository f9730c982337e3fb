/**
 * For each availability trace and each of the paper's single-node settings (48 h of work; deadline
 * 52 h or 70 h; restart overhead 3 or 12 min; p3.2xlarge prices), the offline optimum's cost (DP
 * over the trace, same cost model) and each policy's cost as a ratio to it: per trace, then each
 * policy's mean and worst ratio and the deadlines it missed, and last a summary over the settings.
 *
 *   node dist/bench/policies-vs-optimum.js [TRACES_DIR] [--every 24h] [--seeds 10]
 *
 * TRACES_DIR defaults to ../shared/traces from the working directory. With --every, the job also
 * starts at every multiple of that offset into each trace that still leaves room for the deadline
 * (the paper samples random start points); the table then shows means per trace. A randomized
 * policy runs once per seed 1..N on every sample (its expected cost is what its guarantee is
 * about); its ratio for a sample is the mean over the seeds, and a deadline missed with any seed
 * counts as missed.
 */
import { readdirSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { parseDuration } from "../src/base/duration.js";
import { table } from "../src/cli/output.js";
import { optimumCost } from "../src/placement/optimum.js";
import { isRandomized, POLICY_NAMES, type PolicyName } from "../src/placement/policy.js";
import { simulate } from "../src/placement/simulator.js";
import { loadTrace, type Trace, traceSpanMs } from "../src/spec/availability-trace.js";

const HOUR = 3_600_000;
const SETTINGS = [
  { deadlineH: 52, overheadMin: 3 },
  { deadlineH: 52, overheadMin: 12 },
  { deadlineH: 70, overheadMin: 3 },
  { deadlineH: 70, overheadMin: 12 },
];

function traceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? traceFiles(join(dir, e.name)) : e.name.endsWith(".json") ? [join(dir, e.name)] : []))
    .sort();
}

const argv = process.argv.slice(2);
const flagValue = (flag: string) => {
  const i = argv.indexOf(flag);
  return i >= 0 ? argv[i + 1] : undefined;
};
const everyMs = flagValue("--every") === undefined ? undefined : parseDuration(flagValue("--every") as string);
if (argv.includes("--every") && !everyMs) throw new Error("--every needs a duration such as 24h");
const seeds = Number(flagValue("--seeds") ?? 10);
if (!Number.isInteger(seeds) || seeds < 1) throw new Error("--seeds needs a whole number ≥ 1");
const dir = resolve(
  argv.find((a, i) => !a.startsWith("--") && !["--every", "--seeds"].includes(argv[i - 1] ?? "")) ??
    join(process.cwd(), "..", "shared", "traces"),
);
const traces: [string, Trace][] = await Promise.all(
  traceFiles(dir).map(
    async (f) =>
      [
        relative(dir, f)
          .replace(/^1-node\//, "")
          .replace(/\.json$/, ""),
        await loadTrace(f),
      ] as [string, Trace],
  ),
);

const zero = () => Object.fromEntries(POLICY_NAMES.map((p) => [p, 0])) as Record<PolicyName, number>;
const x = (r: number) => `${r.toFixed(3)}×`;
const summary: {
  setting: string;
  mean: Record<PolicyName, number>;
  worst: Record<PolicyName, number>;
  late: Record<PolicyName, number>;
  samples: number;
}[] = [];

const started = performance.now();
for (const s of SETTINGS) {
  const cost = { spotPricePerHour: 0.92, onDemandPricePerHour: 3.06, restartOverheadMs: s.overheadMin * 60_000 };
  const workMs = 48 * HOUR;
  const deadlineMs = s.deadlineH * HOUR;
  const rows: (string | number)[][] = [];
  const sums = zero();
  const worst = zero();
  const late = zero();
  let optimumSum = 0;
  let samples = 0;
  for (const [name, trace] of traces) {
    const ratio = zero();
    let optimum = 0;
    let n = 0;
    for (let start = 0; start + deadlineMs <= traceSpanMs(trace); start += everyMs ?? Number.POSITIVE_INFINITY) {
      const best = optimumCost({ trace, workMs, deadlineMs, cost, startOffsetMs: start }).costUsd;
      if (best === undefined) throw new Error(`${name}: no schedule meets the deadline`);
      for (const policy of POLICY_NAMES) {
        const runs = isRandomized(policy) ? seeds : 1;
        let r = 0;
        let missed = false;
        for (let seed = 1; seed <= runs; seed++) {
          const sim = simulate({
            traces: [trace],
            policy,
            workMs,
            deadlineMs,
            cost,
            startOffsetMs: start,
            policyParams: { seed },
          });
          r += sim.costUsd / best / runs;
          missed ||= !sim.deadlineMet;
        }
        ratio[policy] += r;
        sums[policy] += r;
        worst[policy] = Math.max(worst[policy], r);
        if (missed) late[policy]++;
      }
      optimum += best;
      optimumSum += best;
      n++;
      samples++;
    }
    rows.push([name, `$${(optimum / n).toFixed(2)}`, ...POLICY_NAMES.map((p) => x(ratio[p] / n))]);
  }
  const mean = Object.fromEntries(POLICY_NAMES.map((p) => [p, sums[p] / samples])) as Record<PolicyName, number>;
  rows.push(["mean", `$${(optimumSum / samples).toFixed(2)}`, ...POLICY_NAMES.map((p) => x(mean[p]))]);
  rows.push(["worst", "", ...POLICY_NAMES.map((p) => x(worst[p]))]);
  rows.push(["deadlines missed", "", ...POLICY_NAMES.map((p) => `${late[p]}/${samples}`)]);
  const setting = `${s.deadlineH}h/${s.overheadMin}m`;
  summary.push({ setting, mean, worst, late, samples });
  const starts = everyMs ? `, starts every ${flagValue("--every")}` : "";
  process.stdout.write(
    `\n48h work, deadline ${s.deadlineH}h, restart overhead ${s.overheadMin}m, spot $0.92/h, on-demand $3.06/h${starts}: cost ÷ optimum\n\n`,
  );
  process.stdout.write(`${await table(["trace", "optimum", ...POLICY_NAMES], rows)}\n`);
}

process.stdout.write(
  `\nSummary: mean cost ÷ optimum per setting (deadline/overhead), mean of the four, worst single ratio, deadlines missed` +
    ` (randomized policies: mean over seeds 1..${seeds})\n\n`,
);
process.stdout.write(
  `${await table(
    ["policy", ...summary.map((s) => s.setting), "mean", "worst", "missed"],
    POLICY_NAMES.map((p) => [
      p,
      ...summary.map((s) => x(s.mean[p])),
      x(summary.reduce((a, s) => a + s.mean[p], 0) / summary.length),
      x(Math.max(...summary.map((s) => s.worst[p]))),
      `${summary.reduce((a, s) => a + s.late[p], 0)}/${summary.reduce((a, s) => a + s.samples, 0)}`,
    ]),
  )}\n`,
);
process.stdout.write(`\n${traces.length} traces in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
