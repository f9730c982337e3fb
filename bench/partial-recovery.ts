/**
 * recovery.partial against whole-job recovery: a 4-node job on the local market (with a
 * provisioning delay and a setup) loses one node; how many instances each launched, and the
 * downtime of node 0's process (its last step before the loss to its first step after). Both
 * jobs run side by side under one controller, in the same run.
 *
 * Run: node dist/bench/partial-recovery.js [--nodes 4] [--provisioning 20s] [--setup 5s] [--losses 2]
 *      (--quick: 2 losses, 4 s provisioning, 1 s setup)
 */
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import SQLite from "better-sqlite3";
import { parseDuration } from "../src/base/duration.js";

const { values: o } = parseArgs({
  options: {
    nodes: { type: "string" },
    provisioning: { type: "string" },
    setup: { type: "string" },
    losses: { type: "string" },
    quick: { type: "boolean", default: false },
  },
});
const nodes = Number(o.nodes ?? 4);
const losses = Number(o.losses ?? 2);
const provisioning = o.provisioning ?? (o.quick ? "4s" : "20s");
const setupMs = parseDuration(o.setup ?? (o.quick ? "1s" : "5s")) as number;
const bin = resolve("bin/spotrun.js");
const root = await mkdtemp(join(tmpdir(), "spotrun-bench-partial-"));
const home = join(root, "home");
const work = join(root, "work");
const cli = (...args: string[]) => execFileSync(process.execPath, [bin, "--home", home, ...args], { encoding: "utf8" });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Steps of 100 ms on every node; node 0 keeps the checkpoint and prints its steps; SIGTERM saves and exits.
const trainer = `import json, os, signal, sys, time
node = os.environ["SPOT_WORKER_ID"]
d = os.environ["SPOT_CHECKPOINT_DIR"]; os.makedirs(d, exist_ok=True); f = os.path.join(d, "state.json")
step = json.load(open(f))["step"] if os.path.exists(f) else 0
stop = False
def term(*_):
    global stop
    stop = True
signal.signal(signal.SIGTERM, term)
while True:
    if stop:
        if node == "0":
            json.dump({"step": step}, open(f + ".tmp", "w")); os.replace(f + ".tmp", f)
        sys.exit(0)
    time.sleep(0.1); step += 1
    if node == "0":
        print(f"bench attempt {os.environ['SPOT_ATTEMPT']} step {step} at {int(time.time() * 1000)}", flush=True)
`;

interface Run {
  partial: boolean;
  job: string;
  downtimes: number[];
  launched: number;
}

try {
  await mkdir(work);
  await writeFile(join(work, "trainer.py"), trainer);
  const runs: Run[] = [];
  for (const partial of [true, false]) {
    const file = join(work, `task-${partial}.yaml`);
    await writeFile(
      file,
      `name: partial-${partial ? "on" : "off"}
resources: {provider: local, instance_type: local.small, spot: true, market: {notice: 2s, provisioning_delay: ${provisioning}}}
num_nodes: ${nodes}
workdir: .
setup: sleep ${setupMs / 1000}
run: python3 trainer.py
checkpoint: {dir: ck}
recovery: {max_restarts: ${losses + 1}, partial: ${partial}}
`,
    );
    const job = (JSON.parse(cli("run", file, "--detach", "--json")) as { id: string }).id;
    runs.push({ partial, job, downtimes: [], launched: 0 });
  }
  const db = new SQLite(join(home, "state.db"), { readonly: true });
  const runStarted = (job: string, attempt: number) => {
    const state = (db.prepare("select state from jobs where id = ?").get(job) as { state: string }).state;
    if (["FAILED", "CANCELLED", "SUCCEEDED", "OVER_BUDGET"].includes(state))
      throw new Error(`job ${job} ended ${state}: spotrun --home ${home} events ${job}`);
    return db
      .prepare("select data from events where job_id = ? and kind = 'run_started'")
      .all(job)
      .some((e) => JSON.parse((e as { data: string }).data).attempt === attempt);
  };
  // Each job on its own: run, wait 3 s, reclaim one node (not node 0, whose log is read); again on the next attempt.
  await Promise.all(
    runs.map(async (r) => {
      for (let k = 0; k < losses; k++) {
        while (!runStarted(r.job, k)) await sleep(100);
        await sleep(3000);
        const victim = db
          .prepare("select id from instances where job_id = ? and attempt = ? and node = ? and ended_at is null")
          .get(r.job, k, 1 + (k % (nodes - 1))) as { id: string };
        cli("chaos", "interrupt", victim.id, "--notice", "2s");
      }
      while (!runStarted(r.job, losses)) await sleep(100);
      await sleep(1500);
    }),
  );
  for (const r of runs) {
    cli("cancel", r.job);
    const steps = cli("logs", r.job)
      .split("\n")
      .flatMap((l) => {
        const m = /^bench attempt (\d+) step (\d+) at (\d+)$/.exec(l);
        return m ? [{ attempt: Number(m[1]), at: Number(m[3]) }] : [];
      });
    for (let k = 0; k < losses; k++) {
      const last = Math.max(...steps.filter((s) => s.attempt === k).map((s) => s.at));
      const first = Math.min(...steps.filter((s) => s.attempt === k + 1).map((s) => s.at));
      r.downtimes.push(first - last);
    }
    r.launched = (db.prepare("select count(*) as c from instances where job_id = ?").get(r.job) as { c: number }).c;
  }
  db.close();
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  console.log(
    `partial recovery: ${nodes}-node job losing 1 node, ${losses} times; local market, provisioning_delay ${provisioning}, setup ${setupMs / 1000} s${o.quick ? " (--quick: scaled down)" : ""}:`,
  );
  const on = runs.find((r) => r.partial) as Run;
  const off = runs.find((r) => !r.partial) as Run;
  for (const r of [on, off])
    console.log(
      `  partial ${r.partial ? "on " : "off"}: ${r.launched} instances launched for ${losses + 1} attempts (${r.launched - nodes} replacements); node 0 downtime mean ${s(mean(r.downtimes))} max ${s(Math.max(...r.downtimes))} (each ${r.downtimes.map(s).join(", ")})`,
    );
  console.log(
    `  on/off: instances launched ${(on.launched / off.launched).toFixed(3)}×, replacements ${((on.launched - nodes) / (off.launched - nodes)).toFixed(3)}×, downtime ${(mean(on.downtimes) / mean(off.downtimes)).toFixed(3)}×`,
  );
} finally {
  try {
    cli("controller", "run", "--exit-when-idle");
  } catch {}
  await rm(root, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
}
