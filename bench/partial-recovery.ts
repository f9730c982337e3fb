/**
 * recovery.partial against whole-job recovery: a 4-node job on the local market (with a
 * provisioning delay and a setup) loses one node; how many instances each launched, and the
 * downtime of node 0's process (its last step before the loss to its first step after). Both
 * jobs run side by side under one controller, in the same run.
 *
 * Run: node dist/bench/partial-recovery.js [--nodes 4] [--provisioning 20s] [--setup 5s] [--losses 2]
 *      (--quick: 2 losses, 4 s provisioning, 1 s setup)
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { parseDuration } from "../src/base/duration.js";
import { localJobs, mean, seconds as s, sleep } from "./support/local-jobs.js";

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
const jobs = await localJobs("partial");
const { work, cli } = jobs;

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
  const runStarted = jobs.runStarted;
  // Each job on its own: run, wait 3 s, reclaim one node (not node 0, whose log is read); again on the next attempt.
  await Promise.all(
    runs.map(async (r) => {
      for (let k = 0; k < losses; k++) {
        while (!runStarted(r.job, k)) await sleep(100);
        await sleep(3000);
        const victim = jobs.get<{ id: string }>(
          "select id from instances where job_id = ? and attempt = ? and node = ? and ended_at is null",
          r.job,
          k,
          1 + (k % (nodes - 1)),
        );
        cli("chaos", "interrupt", victim.id, "--notice", "2s");
      }
      while (!runStarted(r.job, losses)) await sleep(100);
      await sleep(1500);
    }),
  );
  for (const r of runs) {
    r.downtimes = jobs.downtimes(r.job, losses);
    r.launched = jobs.instances(r.job);
  }
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
  await jobs.close();
}
