/**
 * For each availability trace and each of the paper's single-node settings (48 h of work; deadline
 * 52 h or 70 h; restart overhead 3 or 12 min; p3.2xlarge prices), the offline optimum's cost (DP
 * over the trace, same cost model) and each policy's cost as a ratio to it.
 *
 *   node dist/bench/policies-vs-optimum.js [TRACES_DIR] [--every 24h]
 *
 * TRACES_DIR defaults to ../shared/traces from the working directory. With --every, the job also
 * starts at every multiple of that offset into each trace that still leaves room for the deadline
 * (the paper samples random start points); the table then shows means per trace.
 */
import { readdirSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { parseDuration } from "../src/base/duration.js";
import { table } from "../src/cli/output.js";
import { optimumCost } from "../src/placement/optimum.js";
import { POLICY_NAMES, type PolicyName } from "../src/placement/policy.js";
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
const everyAt = argv.indexOf("--every");
const everyMs = everyAt >= 0 ? parseDuration(argv[everyAt + 1] ?? "") : undefined;
if (everyAt >= 0 && !everyMs) throw new Error("--every needs a duration such as 24h");
const dir = resolve(
  argv.find((a, i) => !a.startsWith("--") && i !== everyAt + 1) ?? join(process.cwd(), "..", "shared", "traces"),
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

const started = performance.now();
for (const s of SETTINGS) {
  const cost = { spotPricePerHour: 0.92, onDemandPricePerHour: 3.06, restartOverheadMs: s.overheadMin * 60_000 };
  const workMs = 48 * HOUR;
  const deadlineMs = s.deadlineH * HOUR;
  const rows: (string | number)[][] = [];
  const sums: Record<PolicyName | "optimum", number> = {
    optimum: 0,
    greedy: 0,
    "uniform-progress": 0,
    "on-demand": 0,
    "spot-only": 0,
  };
  const late: Record<PolicyName, number> = { greedy: 0, "uniform-progress": 0, "on-demand": 0, "spot-only": 0 };
  let samples = 0;
  for (const [name, trace] of traces) {
    const ratio: Record<PolicyName, number> = { greedy: 0, "uniform-progress": 0, "on-demand": 0, "spot-only": 0 };
    let optimum = 0;
    let n = 0;
    for (let start = 0; start + deadlineMs <= traceSpanMs(trace); start += everyMs ?? Number.POSITIVE_INFINITY) {
      const best = optimumCost({ trace, workMs, deadlineMs, cost, startOffsetMs: start }).costUsd;
      if (best === undefined) throw new Error(`${name}: no schedule meets the deadline`);
      for (const policy of POLICY_NAMES) {
        const r = simulate({ traces: [trace], policy, workMs, deadlineMs, cost, startOffsetMs: start });
        ratio[policy] += r.costUsd / best;
        if (!r.deadlineMet) late[policy]++;
        sums[policy] += r.costUsd / best;
      }
      optimum += best;
      sums.optimum += best;
      n++;
      samples++;
    }
    rows.push([name, `$${(optimum / n).toFixed(2)}`, ...POLICY_NAMES.map((p) => `${(ratio[p] / n).toFixed(3)}×`)]);
  }
  rows.push([
    "mean",
    `$${(sums.optimum / samples).toFixed(2)}`,
    ...POLICY_NAMES.map((p) => `${(sums[p] / samples).toFixed(3)}×`),
  ]);
  rows.push(["deadlines missed", "", ...POLICY_NAMES.map((p) => `${late[p]}/${samples}`)]);
  const starts = everyMs ? `, starts every ${argv[everyAt + 1]}` : "";
  process.stdout.write(
    `\n48h work, deadline ${s.deadlineH}h, restart overhead ${s.overheadMin}m, spot $0.92/h, on-demand $3.06/h${starts}: cost ÷ optimum\n\n`,
  );
  process.stdout.write(`${table(["trace", "optimum", ...POLICY_NAMES], rows)}\n`);
}
process.stdout.write(`\n${traces.length} traces in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
