import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { after, before, test } from "node:test";
import { jobEvents, lastJson, sandbox, spotrun, stepsInLog, waitFor, writeTask } from "../support-cli/spotrun-cli.js";

/**
 * The controller runs the policies `spotrun simulate` replays. A managed job on the local provider
 * whose spot market replays a real trace (us-west-2a V100, 10-minute ticks, 2 min of trace per
 * second) is compared with `simulate` on the same stretch of that trace, tick by tick: the same
 * choice (spot, on-demand or idle) by the same rule, reclaimed at the same ticks.
 *
 * The stretch is 150 trace minutes from 03:20 on the trace's first day: spot up, reclaimed, back,
 * reclaimed again, then gone for an hour. With 100 min of work due in 160 min and 10 min per
 * restart, uniform progress goes on-demand when it falls behind its line and back to spot when spot
 * returns (a changeover of a running job); greedy waits and then stays on on-demand for good. ROSS
 * (100 min of work in 160 min is below its threshold θ) draws its on-demand block at the first tick
 * from the seed the controller gave the job; `simulate --seed` with that seed takes the same ticks.
 */
const TRACES = process.env.SPOTRUN_TRACES ?? resolve(process.cwd(), "..", "shared", "traces");
const TRACE = resolve(TRACES, "1-node", "aws-10-26-2022", "us-west-2a_v100_1.json");
const START = "200m";

type Box = Awaited<ReturnType<typeof sandbox>>;
let box: Box;
before(async () => {
  box = await sandbox("replay");
});
after(async () => box.cleanup());

interface Decision {
  choice: string;
  rule: string;
  tick: number;
  job_tick: number;
  reclaimed?: boolean;
}

/** The seed the controller started the job's randomized policy from, as kept in the job's row. */
async function seedOf(home: string, job: string): Promise<number | undefined> {
  const { default: SQLite } = await import("better-sqlite3");
  const db = new SQLite(join(home, "state.db"), { readonly: true });
  try {
    const row = db.prepare("select policy_json from jobs where id = ?").get(job) as { policy_json: string | null };
    return (JSON.parse(row.policy_json ?? "{}") as { random?: { seed: number } }).random?.seed;
  } finally {
    db.close();
  }
}

async function events<T>(home: string, job: string, kind: string): Promise<(T & { seq: number })[]> {
  return (await jobEvents(home, job, [kind])) as unknown as (T & { seq: number })[];
}

/** The markets of the instances the simulated job started, in order: a new one at each change or reclaim. */
function simulatedLaunches(timeline: { choice: string; preempted: boolean }[]): string[] {
  return timeline.flatMap((t, k) =>
    t.choice !== "idle" && (k === 0 || timeline[k - 1]?.choice !== t.choice || t.preempted) ? [t.choice] : [],
  );
}

const task = (policy: string) => `name: replay-${policy}
resources:
  provider: local
  spot: true
  market:
    trace: ${TRACE}
    trace_start: ${START}
    time_scale: 120
    notice: 1s
    # With the agent's start, about two thirds of a 5 s tick: a restart costs one tick, as simulated.
    provisioning_delay: 3s
workdir: .
run: python3 trainer.py
# 48 s of steps for the 50 s of work the policy is told: process starts and restores are not free.
envs: {TOTAL_STEPS: 192, CHECKPOINT_EVERY: 4, STEP_SECONDS: 0.25}
recovery:
  strategy: deadline
  deadline_policy: ${policy}
  work: 50s
  deadline: 80s
  restart_overhead: 5s
  max_restarts: 30
`;

/** Runs one job per policy at once on the stretch and compares each with simulate; returns each one's trail of decisions. */
async function replayed(b: Box, policies: string[]): Promise<string[]> {
  assert.ok(existsSync(TRACE), `trace not found at ${TRACE} (run the tests from the repository root)`);
  const ids: string[] = [];
  for (const p of policies) {
    const r = await spotrun(b.home, ["run", await writeTask(b.work, task(p), `${p}.yaml`), "--detach", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    ids.push(lastJson<{ id: string }>(r.stdout).id);
  }
  const ended = await Promise.all(
    ids.map((id) =>
      waitFor(
        async () => {
          const s = await spotrun(b.home, ["status", id, "--json"]);
          const job = JSON.parse(s.stdout) as { state: string; preemptions: number };
          return ["SUCCEEDED", "FAILED", "CANCELLED", "OVER_BUDGET"].includes(job.state) ? job : undefined;
        },
        240_000,
        `job ${id} to end`,
      ),
    ),
  );

  const trails: string[] = [];
  for (const [i, policy] of policies.entries()) {
    const id = ids[i] as string;
    const job = ended[i] as { state: string; preemptions: number };
    assert.equal(job.state, "SUCCEEDED", `${policy}: ${JSON.stringify(job)}`);
    const live = await events<Decision>(b.home, id, "placement_decision");
    assert.ok(live.length > 0, `${policy}: no decisions recorded`);
    assert.deepEqual(
      live.map((d) => d.job_tick),
      live.map((_, k) => k),
      `${policy}: one decision per tick, none skipped`,
    );
    const firstTick = (live[0] as Decision).tick;
    const seed = await seedOf(b.home, id);
    assert.equal(seed === undefined, policy !== "ross", `${policy}: a seed only for the randomized policy`);
    const sim = await spotrun(b.home, [
      "simulate",
      ...(seed === undefined ? [] : ["--seed", String(seed)]),
      "--trace",
      TRACE,
      "--start-at",
      `${firstTick * 10}m`,
      "--work",
      "100m",
      "--deadline",
      "160m",
      "--restart-overhead",
      "10m",
      "--policy",
      policy,
      "--json",
      "--timeline",
    ]);
    assert.equal(sim.code, 0, sim.stderr);
    const planned = (
      JSON.parse(sim.stdout) as {
        results: { preemptions: number; timeline: { choice: string; rule: string; preempted: boolean }[] }[];
      }
    ).results[0];
    assert.ok(planned);
    const timeline = (k: number) => planned.timeline[k]?.choice;
    const show = (xs: { choice: string; rule: string }[]) => xs.map((d) => `${d.choice}/${d.rule}`).join(" ");
    trails.push(`${policy}: ${show(live)}`);
    // The work is done when the trainer exits. The model counts run time as work; a trainer slowed
    // by a loaded machine takes longer, so the live job may end a tick early or a few late. Past the
    // simulated finish there is nothing to compare with.
    assert.ok(
      live.length >= planned.timeline.length - 1 && live.length <= planned.timeline.length + 3,
      `${policy}: ${live.length} ticks live, ${planned.timeline.length} simulated\n live: ${show(live)}\n  sim: ${show(planned.timeline)}`,
    );
    for (const [k, want] of planned.timeline.slice(0, live.length).entries()) {
      const got = live[k] as Decision;
      assert.deepEqual(
        { tick: k, choice: got.choice, rule: got.rule, reclaimed: got.reclaimed === true },
        { tick: k, choice: want.choice, rule: want.rule, reclaimed: want.preempted },
        `${policy}, tick ${k}\n live: ${show(live)}\n  sim: ${show(planned.timeline)}`,
      );
    }
    // And it acted on them: the instances it ran, and the ones it stopped to change market, over the
    // ticks compared (up to the decision of the first tick past the simulated finish).
    const endSeq = live[planned.timeline.length]?.seq ?? Number.POSITIVE_INFINITY;
    const compared = <T extends { seq: number }>(xs: T[]) => xs.filter((x) => x.seq < endSeq);
    const attempts = compared(await events<{ spot: boolean }>(b.home, id, "attempt_started"));
    const ends = compared(await events<{ end: string }>(b.home, id, "attempt_ended"));
    assert.deepEqual(
      attempts.map((a) => (a.spot ? "spot" : "on_demand")),
      simulatedLaunches(planned.timeline.slice(0, live.length)),
      `${policy}: the instances started`,
    );
    const stoppedToChange = planned.timeline
      .slice(0, live.length)
      .filter((t, k) => k > 0 && !t.preempted && timeline(k - 1) !== "idle" && timeline(k - 1) !== t.choice).length;
    assert.equal(ends.filter((e) => e.end === "changeover").length, stoppedToChange, `${policy}: changeovers`);
    assert.equal(ends.filter((e) => e.end === "preempted").length, planned.preemptions, `${policy}: preemptions`);
    // The same comparison as users get it: `simulate --job` finds the settings in the job itself.
    const replay = await spotrun(b.home, ["simulate", "--job", id, "--json"]);
    assert.equal(replay.code, 0, replay.stderr);
    const r = JSON.parse(replay.stdout) as { compared: number; matched: number; start_at_seconds: number };
    assert.equal(r.start_at_seconds, firstTick * 600);
    assert.equal(r.compared, Math.min(live.length, planned.timeline.length));
    assert.equal(r.matched, r.compared, replay.stdout);
    assert.deepEqual(
      await stepsInLog(b.home, id),
      Array.from({ length: 192 }, (_, k) => k + 1),
      `${policy}: every step once`,
    );
  }
  return trails;
}

test("a job on a replayed trace takes the decisions simulate takes on it, tick by tick", async () => {
  const trails = await replayed(box, ["uniform-progress", "greedy"]);
  const missing = await spotrun(box.home, ["simulate", "--job", "j-nosuchjob"]);
  assert.equal(missing.code, 3, missing.stderr);
  // The two policies do differ on this stretch: the comparison is not between two copies of one plan.
  assert.notEqual(trails[0]?.split(": ")[1], trails[1]?.split(": ")[1]);
});

// On its own, in a home of its own (so its market starts the stretch afresh): a third job at once
// slows the trainers of a loaded machine past the model's ticks.
test("a ROSS job replays as simulate does with the seed the controller gave it", async () => {
  const own = await sandbox("replay-ross");
  try {
    const [trail] = await replayed(own, ["ross"]);
    assert.match(trail ?? "", /injection-/);
  } finally {
    await own.cleanup();
  }
});
