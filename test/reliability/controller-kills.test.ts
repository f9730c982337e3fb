import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { isAlive } from "../../src/base/process.js";
import { SPARE_ATTEMPT } from "../../src/state/schema.js";
import { liveLocalInstances, noticedLocalInstances } from "../support-cli/local-instances.js";
import { lastJson, leftoverProcesses, sandbox, spotrun, stepsInLog, waitFor, writeTask } from "../support-cli/spotrun-cli.js";
import { storedEvents, storedInstances, storedJob, storedLease } from "../support-cli/store-reader.js";
import { between, caseCount, caseRandom, casesOf, pick, replayHint, runSeed } from "./reliability-kit.js";

/**
 * kill -9 of the background controller at seeded moments of a local job with three
 * interruptions: some kills right after a notice (while the agent checkpoints and the instance
 * is reclaimed with no controller watching), the others at random moments of the job's life;
 * after each, a while with no controller, then an ordinary command that starts a new one. The job
 * must succeed with every step done once, one instance per attempt and no more alive at once than
 * an attempt under notice and its warm replacement (recovery.replace_on_notice, the spot default), and
 * afterwards the store must agree with the provider: no instance "running" in the store that is
 * gone, none left alive.
 *
 *   SPOTRUN_RELIABILITY_KILL_RUNS=<n>  jobs, each with its own kill schedule (default 1)
 *   SPOTRUN_RELIABILITY_KILLS=<n>      kills per job (default 8)
 */

/**
 * Assertions that wait for a fix of another engineer; they are checked and reported, but do not
 * fail the run until the fix is on main (then delete the entry).
 */
export const PENDING_ASSERTIONS: Record<string, string> = {
  "store-agrees":
    "issue 18 defect 1 (lead): an attempt's instance is terminated at the provider before the store records it; the reaper skips provider-terminated instances and finished jobs are never visited",
};

const STEPS = 300;
const INTERRUPTIONS = 3;
const RUN_LIMIT_MS = 240_000;

interface Plan {
  kills: number;
  /** Notices (by order) after which the controller is killed, and how soon. */
  afterNotice: Map<number, number>;
  /** Per kill: how long the controller lives first, how long none runs after, which command starts the next. */
  liveMs: number[];
  downMs: number[];
  restart: string[][];
}

function planOf(ref: { family: string; seed: number; n: number }, kills: number): Plan {
  const rand = caseRandom(ref);
  const afterNotice = new Map<number, number>();
  // Two of the three notices at least, so the checkpoint and the reclaim happen unwatched.
  const skip = between(rand, 0, INTERRUPTIONS);
  for (let k = 0; k < INTERRUPTIONS; k++) if (k !== skip) afterNotice.set(k, between(rand, 0, 300));
  return {
    kills,
    afterNotice,
    liveMs: Array.from({ length: kills }, () => between(rand, 300, 2500)),
    downMs: Array.from({ length: kills }, () => between(rand, 0, 2500)),
    restart: Array.from({ length: kills }, () =>
      pick(rand, [["status", "--json"], ["status", "{job}"], ["logs", "{job}"], ["status"]]),
    ),
  };
}

/** The job's whole log and event history, kept under tmp for a failed case. */
async function keepLog(home: string, job: string, id: string): Promise<string> {
  const file = join(tmpdir(), `spotrun-reliability-${id.replace(/\//g, "_")}.log`);
  const log = (await spotrun(home, ["logs", job])).stdout;
  const events = storedEvents(home, job).map((e) => `${new Date(e.at).toISOString()} ${e.kind} ${JSON.stringify(e.data)}`);
  writeFileSync(file, `${log}\n--- events\n${events.join("\n")}\n`);
  return file;
}

let box: Awaited<ReturnType<typeof sandbox>> | undefined;
after(async () => box?.cleanup());

const seed = runSeed();
const kills = caseCount("kills", 8);
for (const ref of casesOf("kill9", caseCount("kill-runs", 1), seed)) {
  const id = `${ref.family}/${ref.seed}/${ref.n}`;
  test(`kill -9 of the controller ${kills} times during a job with ${INTERRUPTIONS} interruptions (${id})`, async (t) => {
    const plan = planOf(ref, kills);
    t.diagnostic(`seed ${ref.seed}; ${replayHint(id, "controller-kills.test.js")}`);
    box = await sandbox("kill9");
    const home = box.home;
    // The last attempt waits at the end of its work until every planned kill was made.
    const gate = join(box.work, "..", "gate");
    const task = await writeTask(
      box.work,
      `name: kill9
resources: {provider: local, instance_type: local.small, spot: true, market: {interrupt_after: [6s, 6s, 6s], notice: 1500ms}}
workdir: .
run: python3 gated.py
envs: {TOTAL_STEPS: ${STEPS}, CHECKPOINT_EVERY: 10, STEP_SECONDS: 0.05, GATE: "${gate}"}
recovery: {max_restarts: 10}
`,
    );
    // In Python, not in the shell: a \`run\` of \`a && b\` loses the trainer's SIGTERM checkpoint (the
    // agent takes the shell's exit, at once, for the trainer's), so the gate must not add a shell.
    await writeTask(
      box.work,
      `import os, runpy, signal, sys, time
runpy.run_path("trainer.py", run_name="__main__")  # a stop (SIGTERM) leaves through SystemExit
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
while not os.path.exists(os.environ["GATE"]):
    time.sleep(0.1)
`,
      "gated.py",
    );
    const r = await spotrun(home, ["run", task, "--detach", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const job = lastJson<{ id: string }>(r.stdout).id;

    const log: string[] = [];
    const killed: { pid: number; kind: "timed" | "notice"; at: number }[] = [];
    const restartsFailed: string[] = [];
    let maxLive = 0;
    let livePeak: string[] = [];
    let phase: "up" | "down" | "starting" = "starting";
    let killAt = Number.POSITIVE_INFINITY;
    let killCause: "timed" | "notice" = "timed";
    let restartAt = 0;
    let startingSince = Date.now();
    const noticed = new Set<string>();
    const commands: Promise<void>[] = [];
    let noticeKill: { k: number; d: number; instance: string } | undefined;
    const t0 = Date.now();
    const killedPids = new Set<number>();
    for (;;) {
      const now = Date.now();
      const j = storedJob(home, job);
      if (now - t0 > RUN_LIMIT_MS) {
        // What it was doing, so a CI log alone says why (the sandbox is gone by then).
        const kept = await keepLog(home, job, id);
        const tail = storedEvents(home, job)
          .slice(-12)
          .map((e) => `${e.kind}${(e.data as { attempt?: number }).attempt ?? ""}`);
        throw new Error(
          `the job did not finish in ${RUN_LIMIT_MS / 1000} s (${j?.state}, attempt ${j?.attempt}, ${noticed.size} notices seen, gate ${existsSync(gate) ? "open" : "shut"}; last events ${tail.join(",")}; log ${kept}): ${log.join("; ")}`,
        );
      }
      if (j && ["SUCCEEDED", "FAILED", "CANCELLED", "OVER_BUDGET"].includes(j.state)) break;
      // And until the market's last interruption came: with fast recoveries the work may be done before it.
      if (killed.length >= plan.kills && noticed.size >= INTERRUPTIONS && phase === "up" && !existsSync(gate))
        writeFileSync(gate, "");
      const live = liveLocalInstances(home);
      if (live.length > maxLive) [maxLive, livePeak] = [live.length, live];
      const lease = storedLease(home);
      const holder = lease && isAlive(lease.pid) && !killedPids.has(lease.pid) ? lease.pid : undefined;
      // Notices as the instance saw them (the store hears of one only when a controller reads it).
      for (const [instance] of noticedLocalInstances(home)) {
        if (noticed.has(instance)) continue;
        const d = plan.afterNotice.get(noticed.size);
        if (d !== undefined) noticeKill = { k: noticed.size, d, instance };
        noticed.add(instance);
      }
      // A kill planned for a notice waits for a controller until the recovery is over.
      if (noticeKill && j?.state === "RUNNING") {
        const of = storedInstances(home, job).find((i) => i.id === noticeKill?.instance);
        if (of && j.attempt > of.attempt) noticeKill = undefined;
      }
      if (noticeKill && phase === "up" && killed.length < plan.kills && now + noticeKill.d < killAt) {
        killAt = now + noticeKill.d;
        killCause = "notice";
        log.push(`notice ${noticeKill.k}: kill in ${noticeKill.d} ms`);
        noticeKill = undefined;
      }
      if (phase === "starting" && holder !== undefined) {
        log.push(`up ${holder} at ${((now - t0) / 1000).toFixed(1)} s`);
        phase = "up";
        killAt = killed.length < plan.kills ? now + (plan.liveMs[killed.length] ?? 1000) : Number.POSITIVE_INFINITY;
        killCause = "timed";
      } else if (phase === "starting" && now - startingSince > 15_000) {
        // The command ran but no controller came up: ask again (counted, and reported if it repeats).
        restartsFailed.push(`no controller ${((now - startingSince) / 1000).toFixed(1)} s after a command`);
        commands.push(spotrun(home, ["status"]).then(() => {}));
        startingSince = Date.now();
      } else if (phase === "up" && holder !== undefined && now >= killAt) {
        const kind = killCause;
        process.kill(holder, "SIGKILL");
        killedPids.add(holder);
        killed.push({ pid: holder, kind, at: now - t0 });
        log.push(`kill ${killed.length} (${kind}) of ${holder} at ${((now - t0) / 1000).toFixed(1)} s`);
        phase = "down";
        restartAt = now + (plan.downMs[killed.length - 1] ?? 0);
        killAt = Number.POSITIVE_INFINITY;
      } else if (phase === "down" && now >= restartAt) {
        const args = (plan.restart[killed.length - 1] ?? ["status"]).map((a) => (a === "{job}" ? job : a));
        log.push(`${args[0]} at ${((now - t0) / 1000).toFixed(1)} s`);
        // Not awaited: the loop keeps watching for notices while the command runs.
        commands.push(
          spotrun(home, args).then((c) => {
            if (c.code !== 0) restartsFailed.push(`${args.join(" ")} exited ${c.code}: ${c.stderr.trim().split("\n")[0]}`);
          }),
        );
        phase = "starting";
        startingSince = Date.now();
      }
      await new Promise((res) => setTimeout(res, 50));
    }
    await Promise.all(commands);
    const final = storedJob(home, job);
    t.diagnostic(
      `${killed.length} kills (${killed.filter((k) => k.kind === "notice").length} right after a notice) in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${log.join("; ")}`,
    );
    assert.equal(final?.state, "SUCCEEDED", `${final?.state}: ${final?.message}`);
    assert.equal(killed.length, plan.kills, `the job ended after ${killed.length} of ${plan.kills} kills: lengthen it`);
    assert.ok(
      killed.some((k) => k.kind === "notice"),
      "at least one kill right after a notice",
    );
    assert.deepEqual(restartsFailed, [], "every command after a kill worked and started a controller");

    // Every step done, and done once: the trainer resumed from the checkpoint taken at each notice.
    const kept = await keepLog(home, job, id);
    const steps = await stepsInLog(home, job);
    const counts = new Map<number, number>();
    for (const s of steps) counts.set(s, (counts.get(s) ?? 0) + 1);
    assert.deepEqual(
      Array.from({ length: STEPS }, (_, k) => k + 1)
        .filter((s) => counts.get(s) !== 1)
        .map((s) => `step ${s} ×${counts.get(s) ?? 0}`),
      [],
      `steps missing or done twice; the job's log: ${kept}`,
    );
    // Every interruption is the job's preemption, a warm replacement's reclaimed before its go too.
    assert.equal(final?.preemptions, INTERRUPTIONS, `preemptions; the job's log: ${kept}`);

    // One instance per attempt (a replacement given up is no attempt's), and never more alive at
    // once than an attempt under notice and its warm replacement.
    const instances = storedInstances(home, job);
    assert.deepEqual(
      instances.filter((i) => i.attempt !== SPARE_ATTEMPT).map((i) => i.attempt),
      Array.from({ length: (final?.attempt ?? 0) + 1 }, (_, k) => k),
      `one instance per attempt: a restarted controller adopted, it did not launch twice; the job's log: ${kept}`,
    );
    assert.ok(maxLive <= 2, `${maxLive} instances alive at once: ${livePeak.join(", ")}`);

    // Afterwards the store agrees with the provider: nothing alive, nothing recorded as running.
    await waitFor(async () => (liveLocalInstances(home).length === 0 ? true : undefined), 15_000, "every instance to end");
    assert.deepEqual(leftoverProcesses(instances.map((i) => i.id)), [], "no instance process left");
    const agree = async () => {
      const open = storedInstances(home, job).filter((i) => i.ended_at === null);
      return open.length === 0 ? true : undefined;
    };
    const stale = await waitFor(agree, 10_000, "the store to record every instance's end").then(
      () => [],
      () =>
        storedInstances(home, job)
          .filter((i) => i.ended_at === null)
          .map((i) => i.id),
    );
    if (stale.length && PENDING_ASSERTIONS["store-agrees"])
      t.diagnostic(
        `PENDING (${PENDING_ASSERTIONS["store-agrees"]}): ${stale.length} instance(s) gone but "running" in the store: ${stale.join(", ")}`,
      );
    else assert.deepEqual(stale, [], "instances gone at the provider but running in the store");
  });
}
