import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import SQLite from "better-sqlite3";

/**
 * What the recovery benchmarks share: a home of their own driven through the real CLI, the job
 * store read directly (read-only) to see when an attempt's run started, and the downtime of each
 * recovery read from the job's log, where the trainer prints `bench attempt A step S at MS`.
 */
export async function localJobs(name: string) {
  const root = await mkdtemp(join(tmpdir(), `spotrun-bench-${name}-`));
  const home = join(root, "home");
  const work = join(root, "work");
  await mkdir(work);
  const bin = resolve("bin/spotrun.js");
  const cli = (...args: string[]) => execFileSync(process.execPath, [bin, "--home", home, ...args], { encoding: "utf8" });
  let db: SQLite.Database | undefined;
  const store = () => {
    db ??= new SQLite(join(home, "state.db"), { readonly: true });
    return db;
  };
  return {
    home,
    work,
    cli,
    /** One row of a query on the job store. */
    get<T>(sql: string, ...params: unknown[]): T {
      return store()
        .prepare(sql)
        .get(...params) as T;
    },
    /** Whether attempt `attempt`'s run has started; a job that ended instead fails the bench. */
    runStarted(job: string, attempt: number): boolean {
      const state = (store().prepare("select state from jobs where id = ?").get(job) as { state: string }).state;
      if (["FAILED", "CANCELLED", "SUCCEEDED", "OVER_BUDGET"].includes(state))
        throw new Error(`job ${job} ended ${state}: spotrun --home ${home} events ${job}`);
      return store()
        .prepare("select data from events where job_id = ? and kind = 'run_started'")
        .all(job)
        .some((e) => JSON.parse((e as { data: string }).data).attempt === attempt);
    },
    /** Cancel the job and read, for each of its first `n` recoveries, the last step before it to the first after. */
    downtimes(job: string, n: number): number[] {
      cli("cancel", job);
      const steps = cli("logs", job)
        .split("\n")
        .flatMap((l) => {
          const m = /^bench attempt (\d+) step (\d+) at (\d+)$/.exec(l);
          return m ? [{ attempt: Number(m[1]), at: Number(m[3]) }] : [];
        });
      return Array.from({ length: n }, (_, k) => {
        const last = Math.max(...steps.filter((s) => s.attempt === k).map((s) => s.at));
        const first = Math.min(...steps.filter((s) => s.attempt === k + 1).map((s) => s.at));
        return first - last;
      });
    },
    instances(job: string): number {
      return (store().prepare("select count(*) as c from instances where job_id = ?").get(job) as { c: number }).c;
    },
    /** Let the controller finish and leave, then remove everything. */
    async close(): Promise<void> {
      db?.close();
      try {
        cli("controller", "run", "--exit-when-idle");
      } catch {}
      await rm(root, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
export const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
