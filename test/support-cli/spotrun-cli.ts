import { execFile, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

/** Run the real CLI (`bin/spotrun.js`) as a user would, against a throwaway home. */
export const repoRoot = resolve(process.cwd());
export const bin = join(repoRoot, "bin", "spotrun.js");

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function spotrun(
  home: string,
  args: string[],
  opts: { env?: Record<string, string>; timeoutMs?: number; cwd?: string; killSignal?: NodeJS.Signals } = {},
): Promise<CliResult> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [bin, "--home", home, ...args],
      {
        env: { ...process.env, NO_COLOR: "1", ...opts.env },
        timeout: opts.timeoutMs ?? 120_000,
        killSignal: opts.killSignal ?? "SIGTERM",
        cwd: opts.cwd ?? repoRoot,
        maxBuffer: 64 * 1024 * 1024,
      },
      (err, stdout, stderr) => done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

export function spawnSpotrun(home: string, args: string[]) {
  return spawn(process.execPath, [bin, "--home", home, ...args], {
    env: { ...process.env, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/** A fresh home and a copy of the quickstart trainer in a workdir of its own. */
export async function sandbox(name: string): Promise<{ home: string; work: string; cleanup: () => Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), `spotrun-${name}-`));
  const work = join(root, "work");
  await mkdir(work);
  await cp(join(repoRoot, "examples", "quickstart", "trainer.py"), join(work, "trainer.py"));
  const home = join(root, "home");
  return {
    home,
    work,
    cleanup: async () => {
      // Whatever a failed test left running: cancel it, then make sure nothing under this root survives.
      const active = await spotrun(home, ["status", "--json"], { timeoutMs: 10_000 });
      const ids = active.code === 0 ? (JSON.parse(active.stdout) as { jobs: { id: string }[] }).jobs.map((j) => j.id) : [];
      if (ids.length) await spotrun(home, ["cancel", ...ids], { timeoutMs: 30_000 });
      killProcessesUnder(root);
      await rm(root, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
    },
  };
}

export async function writeTask(work: string, yaml: string, file = "task.yaml"): Promise<string> {
  const path = join(work, file);
  await writeFile(path, yaml);
  return path;
}

/** Parse `--json` stdout: one JSON value per line. */
export const jsonLines = (stdout: string): unknown[] =>
  stdout
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l));

export const lastJson = <T>(stdout: string): T => jsonLines(stdout).at(-1) as T;

/** Step numbers the quickstart trainer printed, in order. */
export async function stepsInLog(home: string, job: string): Promise<number[]> {
  const r = await spotrun(home, ["logs", job]);
  return r.stdout
    .split("\n")
    .map((l) => /^step (\d+)$/.exec(l)?.[1])
    .filter((x): x is string => x !== undefined)
    .map(Number);
}

/** Processes (other than this one) whose HOME, SPOTRUN_HOME or command line lies under `root` (a test's sandbox). */
export function processesUnder(root: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const env = readFileSync(`/proc/${name}/environ`, "utf8");
      // Local instance hosts carry the test runner's HOME; their command line names the sandbox.
      const cmd = readFileSync(`/proc/${name}/cmdline`, "utf8");
      if (env.includes(`HOME=${root}`) || env.includes(`SPOTRUN_HOME=${root}`) || cmd.includes(root)) {
        const stat = readFileSync(`/proc/${name}/stat`, "utf8");
        // A zombie has ended; only its parent's wait is missing.
        if (stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z") out.push(Number(name));
      }
    } catch {}
  }
  return out;
}

/** SIGKILL every process whose working directory or HOME lies under `root` (a test's sandbox). */
export function killProcessesUnder(root: string): void {
  for (const pid of processesUnder(root)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
  }
}

/** Processes still carrying a local instance marker for any of these instances: pid, parent, instance, command line. */
export function leftoverProcesses(instanceIds: string[]): string[] {
  const out: string[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const env = readFileSync(`/proc/${name}/environ`, "utf8");
      const on = instanceIds.find((id) => env.includes(`SPOTRUN_LOCAL_INSTANCE=${id}\0`));
      if (on === undefined) continue;
      // Described, so a failure says what was left and who started it.
      const cmd = readFileSync(`/proc/${name}/cmdline`, "utf8").replace(/\0+$/, "").replace(/\0/g, " ");
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const ppid = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1];
      out.push(`${name} (parent ${ppid}, on ${on}): ${cmd.slice(0, 200)}`);
    } catch {}
  }
  return out;
}

export async function waitFor<T>(fn: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const readJson = async <T>(p: string): Promise<T> => JSON.parse(await readFile(p, "utf8")) as T;

/** One event of `spotrun events --json`: its fields beside seq, time (RFC 3339) and kind. */
export type EventJson = { seq: number; at: string; kind: string } & Record<string, unknown>;

/** A job's event log, read as a user would (`spotrun events JOB --json`; it starts no controller). */
export async function jobEvents(home: string, job: string, kinds?: string[]): Promise<EventJson[]> {
  const r = await spotrun(home, ["events", job, "--json", ...(kinds ? ["--kind", kinds.join(",")] : [])]);
  if (r.code !== 0) throw new Error(`spotrun events ${job} exited ${r.code}: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { events: EventJson[] }).events;
}
