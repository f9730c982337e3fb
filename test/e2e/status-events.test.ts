import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import stringWidth from "string-width";
import { jobEvents, jsonLines, lastJson, sandbox, spotrun, writeTask } from "../support-cli/spotrun-cli.js";

let box: Awaited<ReturnType<typeof sandbox>>;
before(async () => {
  box = await sandbox("status");
});
after(async () => box.cleanup());

interface JobJson {
  id: string;
  state: string;
  array_id: string | null;
  submitted_at: string;
  duration_seconds: number;
  current_attempt: { number: number; spot: boolean };
}

test("status, events, list and config show over a finished job array run with the user config's defaults", async () => {
  const config = join(box.work, "config.yaml");
  await writeFile(config, "resources: {provider: local, spot: false}\ndashboard: {port: 9911}\n");
  const env = { SPOTRUN_CONFIG: config };
  const task = await writeTask(box.work, "name: arr\nworkdir: .\nrun: echo hello from $SPOT_ARRAY_INDEX\narray: {count: 2}\n");
  const r = await spotrun(box.home, ["run", task, "--json"], { env });
  assert.equal(r.code, 0, r.stderr);
  const jobs = lastJson<JobJson[]>(r.stdout);
  assert.equal(jobs.length, 2);
  assert.ok(jobs.every((j) => j.state === "SUCCEEDED" && j.current_attempt.number === 1));
  assert.ok(
    jobs.every((j) => !j.current_attempt.spot),
    "the config's spot: false filled what the task left out",
  );
  const arrayId = jobs[0]?.array_id as string;

  // Finished jobs stay in the default view for 24 h, with SUBMITTED and DURATION.
  const human = await spotrun(box.home, ["status"]);
  assert.equal(human.code, 0, human.stderr);
  const [header, ...rows] = human.stdout.trim().split("\n");
  assert.match(header as string, /^ID\s+NAME\s+STATE\s+SUBMITTED \(UTC\)\s+DURATION\s+ATTEMPTS/);
  assert.equal(rows.filter((l) => /^j-\S+\s+arr-\d\s+SUCCEEDED/.test(l)).length, 2);
  assert.match(human.stdout, new RegExp(`array ${arrayId}: 2 members — 2 SUCCEEDED`));
  const future = JSON.parse((await spotrun(box.home, ["status", "--since", "2099-01-01T00:00:00Z", "--json"])).stdout) as {
    jobs: unknown[];
  };
  assert.equal(future.jobs.length, 0);
  const byArray = JSON.parse((await spotrun(box.home, ["status", arrayId, "--json"])).stdout) as { jobs: JobJson[] };
  assert.deepEqual(byArray.jobs.map((j) => j.id).sort(), jobs.map((j) => j.id).sort());
  const noArray = await spotrun(box.home, ["status", "--array", "nope"]);
  assert.equal(noArray.code, 3);
  assert.match(noArray.stderr, /^spotrun: no job array nope — /);
  assert.equal((await spotrun(box.home, ["status", "j-nope"])).code, 3);

  // The event log, as one document and as a stream.
  const id = jobs[0]?.id as string;
  const events = await jobEvents(box.home, id);
  assert.equal(events[0]?.kind, "job_submitted");
  assert.deepEqual(
    events.filter((e) => e.kind === "state_changed").map((e) => e.to),
    ["PROVISIONING", "SETTING_UP", "RUNNING", "SUCCEEDED"],
  );
  assert.ok(events.every((e, i) => i === 0 || e.seq > (events[i - 1]?.seq ?? 0)));
  assert.match(events[0]?.at as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$/);
  const followed = await spotrun(box.home, ["events", id, "--follow", "--json"]);
  assert.equal(followed.code, 0, followed.stderr);
  assert.deepEqual(
    jsonLines(followed.stdout).map((e) => (e as { seq: number }).seq),
    events.map((e) => e.seq),
  );
  const text = (await spotrun(box.home, ["events", id])).stdout;
  assert.match(text, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z {2}job_submitted +name=arr-\d$/m);
  assert.equal((await spotrun(box.home, ["events", "j-nope"])).code, 3);

  // list: one row per instance, its columns aligned by display width (⚡ is two columns wide).
  const list = (await spotrun(box.home, ["list", "--all"])).stdout.trim().split("\n");
  const typeCol = (l: string) => stringWidth(l.slice(0, l.indexOf("local.")));
  assert.equal(list.length, 3);
  assert.equal(new Set(list.slice(1).map(typeCol)).size, 1);
  assert.equal(stringWidth((list[0] as string).slice(0, (list[0] as string).indexOf("TYPE"))), typeCol(list[1] as string));

  // config show: every value and where it came from; a bad file is one line and exit 2.
  const shown = JSON.parse((await spotrun(box.home, ["config", "show", "--json"], { env })).stdout) as {
    settings: { key: string; value: unknown; source: string }[];
  };
  const by = Object.fromEntries(shown.settings.map((s) => [s.key, s]));
  assert.deepEqual([by["dashboard.port"]?.value, by["dashboard.port"]?.source], [9911, config]);
  assert.deepEqual([by["resources.max_price"]?.value, by["resources.max_price"]?.source], [null, "default"]);
  assert.equal(by.config_file?.source, "SPOTRUN_CONFIG");
  await writeFile(config, "resources: {spot: maybe}\n");
  const bad = await spotrun(box.home, ["config", "show"], { env });
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr.trim().split("\n").length, 1);
  assert.match(bad.stderr, /config\.yaml: resources\.spot: expected boolean, got string "maybe" — fix the user config/);
});
