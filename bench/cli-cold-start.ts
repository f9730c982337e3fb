/**
 * Cold start of the CLI, each call a whole process as an agent or a script pays it: `spotrun
 * --version`, `--help`, `status --json` on an empty home and on a home with 1,000 finished jobs
 * (all ended in the last 24 h, so `status` shows every one). The peer is `node -e 0` in the same
 * run: the floor no Node CLI can go under. Runs are interleaved (one of each per round), so a
 * change in the machine's load falls on every command alike.
 * Targets (issue 15): --version ≤ 1.5× the floor, empty-home status ≤ 2.5×, 1,000 jobs ≤ 400 ms.
 * Run: node dist/bench/cli-cold-start.js [runs] [--json]
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { openSpotrun } from "../src/api/spotrun.js";
import { InstanceId, JobId } from "../src/base/ids.js";
import type { AttemptRow, InstanceRow, JobRow } from "../src/state/state-store.js";

const runs = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 20);
const asJson = process.argv.includes("--json");
const JOBS = 1000;
const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const bin = join(root, "bin", "spotrun.js");

/** 1,000 finished jobs through the store API, in one transaction: each a real submitted job's row, cloned, with one attempt and one ended instance. */
async function fillHome(home: string): Promise<void> {
  const sr = await openSpotrun({ home, stateUrl: null });
  try {
    const [template] = await sr.submit({ name: "bench", run: "true", workdir: "." }, { baseDir: home });
    if (!template) throw new Error("submit returned no job");
    const row = (await sr.store.job(template.id)) as JobRow;
    const now = Date.now();
    await sr.store.transaction(async (tx) => {
      await tx.updateJob(row.id, { state: "CANCELLED", ended_at: now - 23 * 3_600_000 });
      for (let j = 0; j < JOBS - 1; j++) {
        const id = JobId(`j-bench${String(j).padStart(5, "0")}`);
        const started = now - 20 * 3_600_000 + j * 60_000;
        const ended = started + 45 * 60_000;
        await tx.insertJob({
          ...row,
          id,
          name: `train-${j}`,
          state: "SUCCEEDED",
          created_at: started,
          updated_at: ended,
          ended_at: ended,
        });
        const attempt: AttemptRow = {
          job_id: id,
          idx: 0,
          state: "ENDED",
          spot: true,
          instance_type: "local.small",
          started_at: started,
          ended_at: ended,
          end_kind: "succeeded",
          end_detail: null,
          events_offset: 0,
          log_offset: 0,
          agent_started: true,
          notice_at: null,
          last_heartbeat: null,
          stop_reason: null,
        };
        await tx.insertAttempt(attempt);
        const instance: InstanceRow = {
          id: InstanceId(`i-bench${j}`),
          job_id: id,
          attempt: 0,
          node: 0,
          provider: "local",
          instance_type: "local.small",
          zone: "local-a",
          region: "local",
          spot: true,
          price_per_hour: 0.1,
          od_price_per_hour: 0.3,
          launched_at: started,
          ended_at: ended,
          end_reason: "succeeded",
          address: null,
        };
        await tx.upsertInstance(instance);
      }
    });
  } finally {
    await sr.close();
  }
}

interface Case {
  name: string;
  argv: string[];
  home?: string;
  /** What the output must be, so a command that failed fast is not counted as fast. */
  check(stdout: string): void;
}

function runOnce(c: Case): number {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1" };
  delete env.SPOTRUN_STATE_URL;
  if (c.home) env.SPOTRUN_HOME = c.home;
  const t = performance.now();
  const r = spawnSync(process.execPath, c.argv, { env, encoding: "utf8", maxBuffer: 64 << 20 });
  const ms = performance.now() - t;
  if (r.status !== 0) throw new Error(`${c.name} exited ${r.status}: ${r.stderr}`);
  c.check(r.stdout);
  return ms;
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] as number;
  return { mean: s.reduce((a, b) => a + b, 0) / s.length, p50: at(0.5), p90: at(0.9) };
};

const jobsIn = (n: number) => (out: string) => {
  const doc = JSON.parse(out) as { jobs: unknown[] };
  if (doc.jobs.length !== n) throw new Error(`status --json listed ${doc.jobs.length} jobs, expected ${n}`);
};

const empty = mkdtempSync(join(tmpdir(), "spotrun-bench-empty-"));
const full = mkdtempSync(join(tmpdir(), "spotrun-bench-full-"));
try {
  const t0 = performance.now();
  await fillHome(full);
  const fillMs = performance.now() - t0;
  const { version } = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string };
  const cases: Case[] = [
    { name: "node -e 0 (floor)", argv: ["-e", "0"], check: () => {} },
    {
      name: "spotrun --version",
      argv: [bin, "--version"],
      check: (o) => {
        if (o.trim() !== version) throw new Error(`--version printed ${JSON.stringify(o)}`);
      },
    },
    {
      name: "spotrun --help",
      argv: [bin, "--help"],
      check: (o) => {
        if (!o.includes("Usage: spotrun")) throw new Error("--help printed no usage");
      },
    },
    { name: "status --json, empty home", argv: [bin, "status", "--json"], home: empty, check: jobsIn(0) },
    { name: `status --json, ${JOBS} jobs`, argv: [bin, "status", "--json"], home: full, check: jobsIn(JOBS) },
  ];
  const load0 = loadavg();
  // One warm-up each (the page cache, the empty home's first migration), not counted.
  for (const c of cases) runOnce(c);
  const times = cases.map(() => [] as number[]);
  for (let i = 0; i < runs; i++) for (const [k, c] of cases.entries()) times[k]?.push(runOnce(c));
  const load1 = loadavg();
  const floor = stats(times[0] as number[]);
  const targets: Record<string, (s: ReturnType<typeof stats>) => { ok: boolean; target: string }> = {
    "spotrun --version": (s) => ({ ok: s.mean <= 1.5 * floor.mean, target: "≤ 1.5× floor" }),
    "status --json, empty home": (s) => ({ ok: s.mean <= 2.5 * floor.mean, target: "≤ 2.5× floor" }),
    [`status --json, ${JOBS} jobs`]: (s) => ({ ok: s.mean <= 400, target: "≤ 400 ms" }),
  };
  const rows = cases.map((c, k) => {
    const s = stats(times[k] as number[]);
    const t = targets[c.name]?.(s);
    return { name: c.name, ...s, ratio: s.mean / floor.mean, ratio_p50: s.p50 / floor.p50, ...(t ? t : {}) };
  });
  const doc = {
    runs,
    jobs: JOBS,
    fill_ms: Math.round(fillMs),
    loadavg_before: load0,
    loadavg_after: load1,
    node: process.version,
    rows,
  };
  if (asJson) console.log(JSON.stringify(doc, null, 2));
  else {
    const f = (x: number) => x.toFixed(1).padStart(7);
    console.log(
      `CLI cold start, ${runs} runs each, interleaved; ${JOBS} jobs written in ${Math.round(fillMs)} ms; node ${process.version}`,
    );
    console.log(
      `load average before ${load0.map((l) => l.toFixed(2)).join(" ")}, after ${load1.map((l) => l.toFixed(2)).join(" ")} (${availableParallelism()} cores)`,
    );
    console.log(
      `${"case".padEnd(30)} ${"mean".padStart(7)} ${"p50".padStart(7)} ${"p90".padStart(7)}   ×floor (mean / p50)   target`,
    );
    for (const r of rows)
      console.log(
        `${r.name.padEnd(30)} ${f(r.mean)} ${f(r.p50)} ${f(r.p90)}   ${r.ratio.toFixed(2)}× / ${r.ratio_p50.toFixed(2)}×${" ".repeat(8)}${"target" in r ? `${r.target} ${r.ok ? "met" : "MISSED"}` : ""}`,
      );
  }
} finally {
  rmSync(empty, { recursive: true, force: true });
  rmSync(full, { recursive: true, force: true });
}
