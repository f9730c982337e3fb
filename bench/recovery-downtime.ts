/**
 * What a preemption costs the user's process when the cloud takes time to provision and the task
 * has a setup: the local market with a provisioning delay, a setup that sleeps, and interruption
 * notices of two lengths (AWS-like and GCP-like). Downtime of one preemption = the old process's
 * last step to the new process's first step (no step is lost: the trainer saves on SIGTERM).
 * recovery.replace_on_notice on and off run side by side, under one controller, in the same run.
 *
 * Run: node dist/bench/recovery-downtime.js [--preemptions 5] [--provisioning 45s] [--setup 20s]
 *      [--notices 120s,30s]   (--quick: 2 preemptions, 6 s provisioning, 3 s setup, 20 s and 6 s notices)
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { parseDuration } from "../src/base/duration.js";
import { localJobs, mean, seconds as s, sleep } from "./support/local-jobs.js";

const { values: o } = parseArgs({
  options: {
    preemptions: { type: "string" },
    provisioning: { type: "string" },
    setup: { type: "string" },
    notices: { type: "string" },
    quick: { type: "boolean", default: false },
  },
});
const n = Number(o.preemptions ?? (o.quick ? 2 : 5));
const provisioning = o.provisioning ?? (o.quick ? "6s" : "45s");
const setupMs = parseDuration(o.setup ?? (o.quick ? "3s" : "20s")) as number;
const notices = (o.notices ?? (o.quick ? "20s,6s" : "120s,30s")).split(",");
const jobs = await localJobs("downtime");
const { work, cli } = jobs;

// Steps of 100 ms, each printed with its attempt and wall time; SIGTERM saves and exits.
const trainer = `import json, os, signal, sys, time
d = os.environ["SPOT_CHECKPOINT_DIR"]; os.makedirs(d, exist_ok=True); f = os.path.join(d, "state.json")
step = json.load(open(f))["step"] if os.path.exists(f) else 0
stop = False
def term(*_):
    global stop
    stop = True
signal.signal(signal.SIGTERM, term)
while True:
    if stop:
        json.dump({"step": step}, open(f + ".tmp", "w")); os.replace(f + ".tmp", f); sys.exit(0)
    time.sleep(0.1); step += 1
    print(f"bench attempt {os.environ['SPOT_ATTEMPT']} step {step} at {int(time.time() * 1000)}", flush=True)
`;

interface Run {
  notice: string;
  replace: boolean;
  job: string;
  downtimes: number[];
  launches: number;
}

try {
  await writeFile(join(work, "trainer.py"), trainer);
  const runs: Run[] = [];
  for (const notice of notices)
    for (const replace of [true, false]) {
      const file = join(work, `task-${notice}-${replace}.yaml`);
      await writeFile(
        file,
        `name: downtime-${notice}-${replace ? "on" : "off"}
resources: {provider: local, instance_type: local.small, spot: true, market: {notice: ${notice}, provisioning_delay: ${provisioning}}}
workdir: .
setup: sleep ${setupMs / 1000}
run: python3 trainer.py
checkpoint: {dir: ck}
recovery: {max_restarts: ${n + 1}, replace_on_notice: ${replace}}
`,
      );
      const job = (JSON.parse(cli("run", file, "--detach", "--json")) as { id: string }).id;
      runs.push({ notice, replace, job, downtimes: [], launches: 0 });
    }
  const runStarted = jobs.runStarted;
  // Each job on its own: run, wait 3 s, interrupt; again once the next attempt runs.
  await Promise.all(
    runs.map(async (r) => {
      for (let k = 0; k < n; k++) {
        while (!runStarted(r.job, k)) await sleep(100);
        await sleep(3000);
        const inst = jobs.get<{ id: string }>("select id from instances where job_id = ? and attempt = ?", r.job, k);
        cli("chaos", "interrupt", inst.id, "--notice", r.notice);
      }
      while (!runStarted(r.job, n)) await sleep(100);
      await sleep(1500);
    }),
  );
  for (const r of runs) {
    r.downtimes = jobs.downtimes(r.job, n);
    r.launches = jobs.instances(r.job);
  }
  console.log(
    `recovery downtime (old process's last step → new process's first step), local market, provisioning_delay ${provisioning}, setup ${setupMs / 1000} s, ${n} preemptions each${o.quick ? " (--quick: scaled down)" : ""}:`,
  );
  for (const notice of notices) {
    const on = runs.find((r) => r.notice === notice && r.replace) as Run;
    const off = runs.find((r) => r.notice === notice && !r.replace) as Run;
    console.log(`  notice ${notice}:`);
    for (const r of [on, off])
      console.log(
        `    replace_on_notice ${r.replace ? "on " : "off"}: mean ${s(mean(r.downtimes))}  max ${s(Math.max(...r.downtimes))}  (each ${r.downtimes.map(s).join(", ")}; ${r.launches} instances for ${n + 1} attempts)`,
      );
    console.log(`    on/off: ${(mean(on.downtimes) / mean(off.downtimes)).toFixed(3)}×`);
  }
} finally {
  await jobs.close();
}
