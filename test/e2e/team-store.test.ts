import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { spawn } from "node:child_process";
import { after, before, test } from "node:test";
import type { JobId } from "../../src/base/ids.js";
import { openStateStore } from "../../src/state/open-state-store.js";
import { bin, lastJson, sandbox, spotrun, stepsInLog, waitFor, writeTask } from "../support-cli/spotrun-cli.js";
import { type PostgresServer, startPostgres } from "../support-pg/postgres-server.js";

/**
 * A team's store: two controllers share one PostgreSQL database, each leasing at most two jobs.
 * One is killed with SIGKILL while it runs jobs; when its leases run out the other takes them
 * over, adopts their running instances, and every job finishes with one instance per attempt.
 */
let pg: PostgresServer;
let box: Awaited<ReturnType<typeof sandbox>>;
const controllers: ChildProcess[] = [];
let env: Record<string, string>;

before(async () => {
  pg = await startPostgres();
  box = await sandbox("team");
  env = { SPOTRUN_STATE_URL: pg.url };
  // Every CLI this test runs (and the sandbox's cleanup) works on the team store.
  process.env.SPOTRUN_STATE_URL = pg.url;
});
after(async () => {
  for (const c of controllers) if (c.exitCode === null) c.kill("SIGKILL");
  await box.cleanup();
  await pg.stop();
});

function startController(): ChildProcess {
  const c = spawn(process.execPath, [bin, "--home", box.home, "controller", "run", "--max-jobs", "2"], {
    env: { ...process.env, ...env, NO_COLOR: "1" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  controllers.push(c);
  return c;
}

test("two controllers share a PostgreSQL store; one dies and the other finishes its jobs", async () => {
  const store = await openStateStore(box.home, pg.url);
  try {
    startController();
    startController();
    await waitFor(
      async () => ((await store.liveLeases("controller:", Date.now())).length === 2 ? true : undefined),
      20_000,
      "both controllers up",
    );
    const task = await writeTask(
      box.work,
      `name: shared
resources: {provider: local, spot: true, market: {interrupt_after: [4s], notice: 1s}}
workdir: .
run: python3 trainer.py
envs: {TOTAL_STEPS: 80, CHECKPOINT_EVERY: 5, STEP_SECONDS: 0.1}
`,
    );
    const ids: JobId[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await spotrun(box.home, ["run", task, "--detach", "--json", "--name", `shared-${i}`], { env });
      assert.equal(r.code, 0, r.stderr);
      ids.push(lastJson<{ id: JobId }>(r.stdout).id);
    }
    // The CLI saw the two controllers alive and started none of its own.
    assert.equal((await store.liveLeases("controller:", Date.now())).length, 2);
    // Each controller leases two: kill the one holding the first job while its jobs run.
    const holder = await waitFor(
      async () => {
        const rows = await Promise.all(ids.map((id) => store.job(id)));
        const first = rows[0];
        return rows.every((r) => r?.lease_owner) && first?.state === "RUNNING" ? (first.lease_owner as string) : undefined;
      },
      // A bound, not a speed: on a loaded machine four bootstraps on PostgreSQL take a while.
      60_000,
      "every job leased, the first one running",
    );
    const owners = new Set((await store.jobs({ active: true })).map((j) => j.lease_owner));
    // status says which controller holds each job.
    const shown = await spotrun(box.home, ["status", ids[0] as string, "--json"]);
    assert.equal((JSON.parse(shown.stdout) as { controller: string }).controller, holder);
    const all = JSON.parse((await spotrun(box.home, ["status", "--json"])).stdout) as { controllers: { id: string }[] };
    assert.equal(all.controllers.length, 2, "status lists the team's live controllers");
    assert.ok(all.controllers.some((c) => c.id === holder));
    assert.equal(owners.size, 2, `the jobs are split between the two controllers: ${[...owners].join(", ")}`);
    const victimPid = Number(holder.split(":")[1]);
    const victim = controllers.find((c) => c.pid === victimPid);
    assert.ok(victim, `controller ${holder} is one of ours`);
    victim.kill("SIGKILL");
    const orphaned = (await store.jobs({ active: true })).filter((j) => j.lease_owner === holder).map((j) => j.id);
    assert.ok(orphaned.length > 0);

    const ended = await waitFor(
      async () => {
        const rows = await Promise.all(ids.map((id) => store.job(id)));
        return rows.every((j) => j && ["SUCCEEDED", "FAILED", "CANCELLED", "OVER_BUDGET"].includes(j.state)) ? rows : undefined;
      },
      150_000,
      "every job to end",
    );
    for (const j of ended) assert.equal(j?.state, "SUCCEEDED", `${j?.id}: ${j?.message}`);

    for (const id of orphaned) {
      const taken = (await store.eventsOfKind(id, ["leased"])).map(
        (e) => (JSON.parse(e.data) as { controller: string }).controller,
      );
      assert.equal(taken[0], holder);
      assert.ok(taken.length >= 2 && taken.at(-1) !== holder, `${id} was taken over: ${taken.join(" → ")}`);
    }
    for (const id of ids) {
      // Never two instances for one attempt, whoever ran it: the survivor adopted, it did not relaunch.
      const perAttempt = new Map<number, number>();
      for (const i of await store.instances({ jobId: id })) perAttempt.set(i.attempt, (perAttempt.get(i.attempt) ?? 0) + 1);
      assert.ok(
        [...perAttempt.values()].every((n) => n === 1),
        `${id}: instances per attempt ${JSON.stringify([...perAttempt])}`,
      );
      // Every step's line is there, including those an instance printed while no controller held
      // its job (its agent kept the run log with the checkpoints when it was reclaimed).
      assert.deepEqual(
        [...new Set(await stepsInLog(box.home, id))].sort((a, b) => a - b),
        Array.from({ length: 80 }, (_, k) => k + 1),
        `${id}: every step`,
      );
    }
  } finally {
    await store.close();
  }
});
