import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type JobView, openSpotrun, type Spotrun } from "../../../src/index.js";
import type { JobEvent } from "../../../src/state/job-event.js";
import { sandbox, spotrun } from "../../support-cli/spotrun-cli.js";

/**
 * `status` says how a job's checkpoints stand: the newest generation, and a failed upload with
 * its cause, loudly while no upload has succeeded since (issue 17 item 10). The events are the
 * ones the controller records from the agent's `checkpoint_uploaded` / `checkpoint_failed`.
 */
let box: Awaited<ReturnType<typeof sandbox>>;
let sr: Spotrun;
before(async () => {
  box = await sandbox("status-ckpt");
  sr = await openSpotrun({ home: box.home, stateUrl: null });
});
after(async () => {
  await sr.close();
  await box.cleanup();
});

const failed = (attempt: number, cause: string): JobEvent => ({ kind: "checkpoint_failed", attempt, cause });
const uploaded = (attempt: number, generation: string): JobEvent => ({
  kind: "checkpoint_uploaded",
  attempt,
  generation,
  bytes: 10,
  files: 1,
  ms: 5,
  reason: "periodic",
});

const statusOf = async (id: string) => {
  const json = await spotrun(box.home, ["status", id, "--json"]);
  assert.equal(json.code, 0, json.stderr);
  const human = await spotrun(box.home, ["status", id]);
  assert.equal(human.code, 0, human.stderr);
  return { view: JSON.parse(json.stdout) as JobView, text: human.stdout };
};

test("a failed upload is in status with its cause until an upload succeeds again", async () => {
  const [job] = (await sr.submit(
    { name: "ck", resources: { provider: "local" }, run: "true", workdir: "." },
    { baseDir: box.work },
  )) as [JobView];
  // The run writes no checkpoint, so only the events appended below say anything about checkpoints.
  let s = await statusOf(job.id);
  assert.deepEqual(s.view.checkpoints, {
    uploaded: 0,
    last_generation: null,
    last_uploaded_at: null,
    failed: 0,
    last_failure: null,
    failing: false,
  });
  assert.match(s.text, /checkpoints file:\S+: none uploaded yet/);

  await sr.store.appendEvent(job.id, Date.UTC(2026, 0, 1, 0, 0, 0), uploaded(0, "g-000000-1"));
  await sr.store.appendEvent(job.id, Date.UTC(2026, 0, 1, 0, 5, 0), failed(0, "The specified bucket does not exist"));
  await sr.store.appendEvent(job.id, Date.UTC(2026, 0, 1, 0, 6, 0), failed(1, "Access Denied"));
  s = await statusOf(job.id);
  assert.equal(s.view.checkpoints.failing, true);
  assert.equal(s.view.checkpoints.failed, 2);
  assert.deepEqual(s.view.checkpoints.last_failure, { attempt: 1, cause: "Access Denied", at: "2026-01-01T00:06:00.000Z" });
  assert.equal(s.view.checkpoints.last_generation, "g-000000-1");
  assert.match(
    s.text,
    /\n {2}CHECKPOINT UPLOAD FAILING \(2 failed, last attempt 2, 2026-01-01T00:06:00\.000Z\): Access Denied\n/,
  );
  const events = await sr.events(job.id);
  assert.ok(events.events.some((e) => e.kind === "checkpoint_failed" && e.cause === "Access Denied"));

  await sr.store.appendEvent(job.id, Date.UTC(2026, 0, 1, 0, 10, 0), uploaded(1, "g-000001-2"));
  s = await statusOf(job.id);
  assert.equal(s.view.checkpoints.failing, false);
  assert.equal(s.view.checkpoints.uploaded, 2);
  assert.match(s.text, /: 2 uploaded, newest g-000001-2 at 2026-01-01T00:10:00\.000Z\n/);
  assert.match(
    s.text,
    /2 checkpoint upload\(s\) failed, the last \(attempt 2, .*\) with: Access Denied; uploads since succeeded/,
  );
  await sr.cancel([job.id]);
});
