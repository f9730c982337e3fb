import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, type TestContext, test } from "node:test";
import { systemClock } from "../../src/base/clock.js";
import type { JobId } from "../../src/base/ids.js";
import { silentLogger } from "../../src/base/logger.js";
import { Controller } from "../../src/core/controller.js";
import { submitJob } from "../../src/core/submit.js";
import { ProviderCache } from "../../src/providers/registry.js";
import { loadTaskFile } from "../../src/spec/load-task.js";
import { openSqlite } from "../../src/state/open-sqlite.js";
import { type JobRow, StateStore } from "../../src/state/state-store.js";
import { liveLocalInstances, noticedLocalInstances } from "../support-cli/local-instances.js";
import { lastJson, leftoverProcesses, sandbox, spotrun, waitFor, writeTask } from "../support-cli/spotrun-cli.js";
import { storedInstances } from "../support-cli/store-reader.js";
import { between, caseRandom, casesOf, replayHint, runSeed } from "./reliability-kit.js";

/**
 * A cancel landing at each stage of a recovery from a spot interruption: after the notice (before
 * the reclaim), while the agent uploads the notice's checkpoint, while the job is RECOVERING,
 * PROVISIONING its next instance and SETTING_UP on it. The job must end CANCELLED with no
 * instance left at the provider, no process left, and every instance's end in the store.
 *
 * The stages of a recovery last from milliseconds (RECOVERING, the upload) to seconds, less than a
 * command takes to start, so the cancel is the library's own (the same transaction `spotrun
 * cancel` commits: desired=cancel and a cancel_requested event), made in this process the moment
 * the stage is seen, under a guard that checks the stage inside the same write transaction. Each
 * job's first instance is interrupted; a seeded delay places the cancel inside the longer stages.
 */
const STAGES = ["after-notice", "during-upload", "recovering", "provisioning", "setting-up"] as const;
type Stage = (typeof STAGES)[number];

/** Which stage case n is, and how far into the stage its cancel lands. */
const stageOf = (n: number): Stage => STAGES[n % STAGES.length] as Stage;

/** Waits for the lead's fix (then set it to ""): checked and printed, not failed. */
const PENDING_STORE_ENDS: string =
  "issue 18 defect 1 (lead): instances ended at the provider are not always recorded as ended in the store";

function taskFor(stage: Stage, name: string): string {
  // The upload stage needs an upload that lasts, of a checkpoint that exists by the notice: a 64 MB
  // one, written once at the start, and the interruption late enough for it (under load too).
  const big = stage === "during-upload";
  return `name: ${name}
resources: {provider: local, instance_type: local.small, spot: true, market: {interrupt_after: [${big ? "12s" : "4s"}], notice: 3s, provisioning_delay: 1500ms}}
workdir: .
${big ? "" : "setup: sleep 1.5\n"}run: python3 ${big ? "blob-trainer.py" : "trainer.py"}
envs: {TOTAL_STEPS: 100000, CHECKPOINT_EVERY: ${big ? 100000 : 10}, STEP_SECONDS: 0.05, BLOB_MB: 64}
recovery: {max_restarts: 5, replace_on_notice: false}
`;
}

const uploading = (home: string, instance: string): boolean => {
  try {
    return readdirSync(join(home, "local", "instances", instance, "disk", ".spotrun")).some((f) => f.startsWith("snap-"));
  } catch {
    return false;
  }
};

describe("cancel at each stage of a recovery", { concurrency: true }, () => {
  const seed = runSeed();
  const cases = casesOf("cancel", STAGES.length, seed);
  let box: Awaited<ReturnType<typeof sandbox>>;
  let store: StateStore;
  before(async () => {
    box = await sandbox("cancel");
    await writeTask(
      box.work,
      `import os, runpy
d = os.environ["SPOT_CHECKPOINT_DIR"]
os.makedirs(d, exist_ok=True)
blob = os.path.join(d, "blob.bin")
if not os.path.exists(blob):
    with open(blob + ".tmp", "wb") as f:
        f.write(os.urandom(1 << 20) * int(os.environ["BLOB_MB"]))
    os.replace(blob + ".tmp", blob)
runpy.run_path("trainer.py", run_name="__main__")
`,
      "blob-trainer.py",
    );
    store = new StateStore(await openSqlite(box.home));
  });
  after(async () => {
    await store?.close();
    await box?.cleanup();
  });

  /** The library's cancel, committed only if `still` holds for the job inside the transaction. */
  const cancelIf = (id: JobId, still: (j: JobRow) => boolean): Promise<boolean> =>
    store.transaction(async (tx) => {
      const j = await tx.job(id);
      if (!j || !still(j)) return false;
      await tx.updateJob(id, { desired: "cancel" });
      await tx.appendEvent(id, Date.now(), { kind: "cancel_requested" });
      return true;
    });

  for (const ref of cases) {
    const stage = stageOf(ref.n);
    const id = `${ref.family}/${ref.seed}/${ref.n}`;
    if (stage === "recovering") {
      test(`cancel ${stage} (${id})`, (t) => cancelInRecovering(t, id));
      continue;
    }
    test(`cancel ${stage} (${id})`, async (t) => {
      t.diagnostic(`seed ${ref.seed}; ${replayHint(id, "cancel-stages.test.js")}`);
      // Two stages are short. PROVISIONING is the launch call alone (the instance boots while the
      // job is SETTING_UP), about 150 ms here when idle. After the notice, the trainer stops at once
      // and the attempt's end terminates the instance long before the 3 s notice would reclaim it:
      // about 200 ms. Their cancels land within the first 50 ms; the others within 600 ms.
      const short = stage === "provisioning" || stage === "after-notice";
      const delayMs = between(caseRandom(ref), 0, short ? 50 : 600);
      const task = await writeTask(box.work, taskFor(stage, `cancel-${ref.n}`), `cancel-${ref.n}.yaml`);
      const r = await spotrun(box.home, ["run", task, "--detach", "--json"]);
      assert.equal(r.code, 0, r.stderr);
      const job = lastJson<{ id: JobId }>(r.stdout).id;
      const firstInstance = async () => (await store.instances({ jobId: job, attempt: 0 }))[0]?.id;
      const recovering = (j: JobRow) => j.preemptions >= 1 && j.desired === "run";
      let landed = "";
      let seenAt: number | undefined;
      let noticedOnce = false;
      const until = Date.now() + 90_000;
      while (!landed) {
        if (Date.now() > until) throw new Error(`stage ${stage} not reached in 90 s`);
        const j = await store.job(job);
        if (!j) throw new Error(`job ${job} is gone`);
        if (["SUCCEEDED", "FAILED", "CANCELLED"].includes(j.state))
          throw new Error(`job ended ${j.state} before the ${stage} stage`);
        const inst = stage === "after-notice" || stage === "during-upload" ? await firstInstance() : undefined;
        noticedOnce ||= inst !== undefined && noticedLocalInstances(box.home).has(inst);
        const noticed = noticedOnce;
        if (stage === "after-notice" && inst && noticed) {
          // Some time into the notice, before the instance ends.
          seenAt ??= Date.now();
          if (
            Date.now() - seenAt >= delayMs &&
            (await cancelIf(job, () => noticedLocalInstances(box.home, { underNotice: true }).has(inst)))
          )
            landed = `${Date.now() - seenAt} ms after the notice`;
        } else if (stage === "during-upload" && inst && noticed && uploading(box.home, inst)) {
          if ((await cancelIf(job, () => uploading(box.home, inst))) && uploading(box.home, inst))
            landed = "while the upload ran";
        } else if (
          (stage === "provisioning" && j.state === "PROVISIONING") ||
          (stage === "setting-up" && j.state === "SETTING_UP")
        ) {
          if (recovering(j) && j.attempt >= 1) {
            seenAt ??= Date.now();
            const want = j.state;
            if (Date.now() - seenAt >= delayMs && (await cancelIf(job, (x) => x.state === want && x.attempt === j.attempt)))
              landed = `${Date.now() - seenAt} ms into ${want} of attempt ${j.attempt}`;
          }
        }
        await new Promise((res) => setTimeout(res, landed ? 0 : 3));
      }
      t.diagnostic(`cancel landed ${landed}`);
      await expectCancelled(t, box.home, job);
    });
  }
});

/**
 * RECOVERING lasts from the commit that ends an attempt to the next one that starts the next
 * (milliseconds), so here the controller runs in this process on a store that lands the cancel
 * right after that commit, before the controller's next step: the visit then goes on with the
 * row it read (desired=run) and launches, and the next visit must tear that launch down.
 */
async function cancelInRecovering(t: TestContext, id: string): Promise<void> {
  t.diagnostic(replayHint(id, "cancel-stages.test.js"));
  const box = await sandbox("cancel-rec");
  let landed = false;
  let jobId: JobId | undefined;
  class CancelAfterRecovering extends StateStore {
    override async transaction<T>(fn: (tx: StateStore) => Promise<T>): Promise<T> {
      const out = await super.transaction(fn);
      const j = jobId && !landed ? await this.job(jobId) : undefined;
      if (j && j.state === "RECOVERING" && j.preemptions >= 1)
        landed = await super.transaction(async (tx) => {
          await tx.updateJob(j.id, { desired: "cancel" });
          await tx.appendEvent(j.id, Date.now(), { kind: "cancel_requested" });
          return true;
        });
      return out;
    }
  }
  const store = new CancelAfterRecovering(await openSqlite(box.home));
  const providers = new ProviderCache({ home: box.home, logger: silentLogger });
  try {
    const task = await writeTask(box.work, taskFor("recovering", "cancel-rec"));
    const [submitted] = await submitJob(store, await loadTaskFile(task), box.home, systemClock);
    assert.ok(submitted, "the task is no array: one job");
    jobId = submitted;
    const controller = new Controller({ store, providers, home: box.home, clock: systemClock, logger: silentLogger, tickMs: 50 });
    const until = Date.now() + 90_000;
    await controller.run({
      until: async () => {
        if (Date.now() > until) throw new Error("the job did not end in 90 s");
        const j = await store.job(submitted);
        return Boolean(j && ["CANCELLED", "SUCCEEDED", "FAILED"].includes(j.state));
      },
    });
    assert.ok(landed, "the cancel landed in RECOVERING");
    await expectCancelled(t, box.home, submitted);
  } finally {
    await providers.closeAll();
    await store.close();
    await box.cleanup();
  }
}

/** CANCELLED as the CLI shows it, nothing of the job left at the provider, and (pending defect 1) the store agreeing. */
async function expectCancelled(t: TestContext, home: string, job: string): Promise<void> {
  // A command as the user would type next: it starts a controller if none runs, and shows the end.
  const shown = await waitFor(
    async () => {
      const s = await spotrun(home, ["status", job, "--json"]);
      let v: { state: string; message: string | null } | undefined;
      try {
        v = s.code === 0 ? JSON.parse(s.stdout) : undefined;
      } catch {
        // Seen once in many runs (exit 0, no document): said here, and asked again.
        t.diagnostic(
          `status --json exited 0 without a JSON document: stdout ${JSON.stringify(s.stdout.slice(0, 200))}, stderr ${JSON.stringify(s.stderr.slice(0, 300))}`,
        );
      }
      return v && ["CANCELLED", "SUCCEEDED", "FAILED"].includes(v.state) ? v : undefined;
    },
    60_000,
    `job ${job} to end after the cancel`,
  );
  assert.equal(shown.state, "CANCELLED", `${shown.state}: ${shown.message}`);
  // By the provider's own tags: an instance launched but never recorded in the store counts too.
  await waitFor(
    async () => (liveLocalInstances(home, job).length ? undefined : true),
    20_000,
    "no instance of the job left at the provider",
  );
  const mine = storedInstances(home, job).map((i) => i.id);
  assert.deepEqual(leftoverProcesses(mine), [], "no process of its instances left");
  const open = await waitFor(
    async () => {
      const o = storedInstances(home, job).filter((i) => i.ended_at === null);
      return o.length === 0 ? o : undefined;
    },
    10_000,
    "every instance's end in the store",
  ).catch(() => storedInstances(home, job).filter((i) => i.ended_at === null));
  if (open.length && PENDING_STORE_ENDS)
    t.diagnostic(`PENDING (${PENDING_STORE_ENDS}): still "running" in the store: ${open.map((i) => i.id).join(", ")}`);
  else assert.deepEqual(open, [], "instances gone at the provider but running in the store");
}
