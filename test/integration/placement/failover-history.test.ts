import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type JobView, openSpotrun, type Spotrun } from "../../../src/index.js";
import { killProcessesUnder } from "../../support-cli/spotrun-cli.js";
import { recordAttempt } from "../../support-state/history-rows.js";

/**
 * The failover walk ranks offers with the interruption rates the store measured. On a store that
 * has seen local.small spot preempted over and over, the controller's first launch goes to
 * local.medium, which costs four times as much per hour; on a fresh store it goes to local.small.
 */
const H = 3_600_000;

const task = {
  name: "walk",
  resources: { provider: "local", instance_types: ["local.small", "local.medium"], spot: true },
  recovery: { strategy: "failover" },
  run: "true",
};

async function firstLaunch(sr: Spotrun, baseDir: string): Promise<string[]> {
  const [job] = (await sr.submit(task, { baseDir })) as [JobView];
  await sr.runController({ until: async () => (await sr.job(job.id)).state === "SUCCEEDED" });
  return (await sr.store.instances({ jobId: job.id })).map((i) => `${i.spot ? "spot" : "od"} ${i.instance_type}`);
}

let root: string;
const fresh = { home: "", work: "" };
const seen = { home: "", work: "" };
before(async () => {
  root = await mkdtemp(join(tmpdir(), "spotrun-failover-history-"));
  Object.assign(fresh, { home: join(root, "fresh"), work: root });
  Object.assign(seen, { home: join(root, "seen"), work: root });
});
after(async () => {
  killProcessesUnder(root);
  await rm(root, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
});

test("a fresh store ranks by price and the assumed rate: local.small first", async () => {
  const sr = await openSpotrun({ home: fresh.home, stateUrl: null });
  try {
    assert.deepEqual(await firstLaunch(sr, fresh.work), ["spot local.small"]);
  } finally {
    await sr.close();
  }
});

test("a store that measured local.small spot as flaky launches on local.medium instead", async () => {
  const sr = await openSpotrun({ home: seen.home, stateUrl: null });
  try {
    // 900 preempted attempts in 30 instance-hours, two minutes each, ended 3 h ago. With the
    // prior (5 %/h worth 24 h) the rate is 901.2 / 54 ≈ 16.7/h: under the walk's 3-minute
    // restarts a small instance then finishes an hour of work in ~6 h, dearer than medium's ~1.05 h.
    const t0 = Date.now() - 33 * H;
    await sr.store.transaction(async (tx) => {
      for (let idx = 0; idx < 900; idx++)
        await recordAttempt(tx, {
          job: "past",
          idx,
          end: "preempted",
          t0,
          nodes: [{ zone: "local-1a", type: "local.small", spot: true, from: idx / 30, to: (idx + 1) / 30 }],
        });
    });
    assert.deepEqual(await firstLaunch(sr, seen.work), ["spot local.medium"]);
  } finally {
    await sr.close();
  }
});
