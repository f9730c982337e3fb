import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ExitCode, type JobView, openSpotrun, type Spotrun, SpotrunError } from "../../../src/index.js";
import { sandbox } from "../../support-cli/spotrun-cli.js";

let box: Awaited<ReturnType<typeof sandbox>>;
let sr: Spotrun;
before(async () => {
  box = await sandbox("api");
  sr = await openSpotrun({ home: box.home, stateUrl: null });
});
after(async () => {
  await sr.close();
  await box.cleanup();
});

test("the library API: submit a task object, drive it in-process, read status, events, logs and cost", async () => {
  const [job] = (await sr.submit(
    {
      name: "api-job",
      resources: { provider: "local", instance_type: "local.small" },
      workdir: ".",
      run: 'for i in 1 2 3; do echo "line $i"; done',
    },
    { baseDir: box.work },
  )) as [JobView];
  assert.equal(job.state, "PENDING");
  assert.equal((await sr.jobs()).length, 1, "an active job is listed");
  const why = await sr.runController({ until: async () => (await sr.job(job.id)).state === "SUCCEEDED" });
  assert.equal(why, "done");

  const done = await sr.job("api-job");
  assert.equal(done.id, job.id, "found by name");
  assert.equal(done.state, "SUCCEEDED");
  const status = await sr.status({ all: true });
  assert.deepEqual(
    status.jobs.map((j) => j.id),
    [job.id],
  );

  const ev = await sr.events(job.id);
  assert.equal(ev.events[0]?.kind, "job_submitted");
  assert.ok(ev.events.some((e) => e.kind === "state_changed" && e.to === "SUCCEEDED"));
  assert.match(ev.events[0]?.at ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  const later = await sr.events(job.id, { afterSeq: ev.next_seq });
  assert.deepEqual(later.events, [], "nothing after the last seen event");

  const all = await sr.logs(job.id);
  // The log carries a line per attempt before the run's own output.
  assert.match(all.text, /^\[spotrun\] attempt 1 on \S+ \(spot local\.small\)\nline 1\nline 2\nline 3\n$/);
  const tail = await sr.logs(job.id, { tail: 1 });
  assert.equal(tail.text, "line 3\n");
  const rest = await sr.logs(job.id, { since: Buffer.byteLength(all.text.slice(0, all.text.indexOf("line 2"))) });
  assert.equal(rest.text, "line 2\nline 3\n");
  assert.equal(rest.next_offset, all.size_bytes);

  const cost = await sr.cost(job.id);
  assert.equal(cost.jobs.length, 1);
  assert.ok(cost.total.cost_usd > 0, "a local instance is billed at its catalog price");
});

test("a bad task object is a usage error naming the field; an unknown job is not found", async () => {
  await assert.rejects(
    sr.submit({ run: "true", resources: { provider: "azure" } }),
    (e: unknown) =>
      e instanceof SpotrunError && e.exitCode === ExitCode.usage && /^task: resources\.provider: got "azure"/.test(e.message),
  );
  await assert.rejects(sr.job("nope"), (e: unknown) => e instanceof SpotrunError && e.exitCode === ExitCode.notFound);
});

test("cancel: a pending job ends CANCELLED once driven; a finished one is left alone", async () => {
  const [job] = (await sr.submit({ run: "sleep 30", resources: { provider: "local" } }, { baseDir: box.work })) as [JobView];
  assert.deepEqual(await sr.cancel([job.id]), [job.id]);
  await sr.waitUntilDone([job.id], new AbortController().signal);
  assert.equal((await sr.job(job.id)).state, "CANCELLED");
  assert.deepEqual(await sr.cancel([job.id]), [], "already over");
});

test("the package's own name resolves to the library API", async () => {
  const byName = (await import(String("spotrun"))) as Record<string, unknown>;
  assert.equal(typeof byName.openSpotrun, "function");
});
