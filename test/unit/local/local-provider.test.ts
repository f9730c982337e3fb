import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { FakeClock } from "../../../src/base/clock.js";
import { silentLogger } from "../../../src/base/logger.js";
import { readStatus } from "../../../src/providers/local/instance-record.js";
import { LocalProvider } from "../../../src/providers/local/local-provider.js";
import type { LaunchRequest } from "../../../src/providers/provider.js";
import { resourcesSchema } from "../../../src/spec/task-schema.js";

const home = await mkdtemp(join(tmpdir(), "spotrun-local-"));
const provider = new LocalProvider({ home, logger: silentLogger });
after(async () => {
  const all = await provider.list({});
  await provider.terminate(all.filter((i) => i.status !== "terminated").map((i) => i.id));
  await rm(home, { recursive: true, force: true });
});

const statusOf = (id: string) => readStatus(join(home, "local", "instances", id));

const req = (token: string, extra: Partial<LaunchRequest> = {}): LaunchRequest => ({
  token,
  instanceTypes: ["local.small"],
  spot: true,
  count: 1,
  tags: { "spotrun:job": "j-test" },
  resources: resourcesSchema.parse({ provider: "local", market: { notice: "1s" } }),
  ...extra,
});

test("the same idempotency key never launches twice", async () => {
  const a = await provider.launch(req("tok-1"));
  const b = await provider.launch(req("tok-1"));
  assert.equal(a.kind, "launched");
  assert.equal(b.kind, "launched");
  if (a.kind !== "launched" || b.kind !== "launched") return;
  assert.equal(a.instances[0]?.id, b.instances[0]?.id);
  assert.equal((await provider.list({ "spotrun:job": "j-test" })).length, 1);
});

test("spot refusals, tags, and a chaos notice that ends in a reclaim", async () => {
  const refused = await provider.launch(
    req("tok-2", { resources: resourcesSchema.parse({ provider: "local", market: { refuse_spot: 1 } }), spotSequence: 0 }),
  );
  assert.deepEqual(refused.kind === "refused" && [refused.refusal, refused.code], ["capacity", "InsufficientInstanceCapacity"]);
  const r = await provider.launch(req("tok-3", { tags: { k: "v" } }));
  assert.equal(r.kind, "launched");
  if (r.kind !== "launched") return;
  const id = r.instances[0]!.id;
  for (let i = 0; i < 100 && (await provider.describe([id]))[0]?.status !== "running"; i++)
    await new Promise((x) => setTimeout(x, 20));
  assert.equal((await provider.list({ k: "v" }))[0]?.id, id);
  const n = await provider.interrupt(id, 300);
  assert.equal(n.action, "terminate");
  for (let i = 0; i < 150 && (await provider.describe([id]))[0]?.status !== "terminated"; i++)
    await new Promise((x) => setTimeout(x, 20));
  assert.equal((await provider.describe([id]))[0]?.status, "terminated");
  const ended = statusOf(id);
  assert.equal(ended?.status === "terminated" && ended.notice?.action, "terminate", "the end keeps the notice");
  await assert.rejects(provider.launch(req("tok-4", { instanceTypes: ["local.huge"] })), /unknown instance type "local\.huge"/);
});

test("an instance ended under its notice keeps the notice in its record, and its transport starts nothing on it any more", async () => {
  const r = await provider.launch(req("tok-5"));
  assert.equal(r.kind, "launched");
  if (r.kind !== "launched") return;
  const id = r.instances[0]!.id;
  for (let i = 0; i < 100 && (await provider.describe([id]))[0]?.status !== "running"; i++)
    await new Promise((x) => setTimeout(x, 20));
  const t = await provider.transport(r.instances[0]!);
  assert.equal((await t.exec("echo up")).stdout, "up\n");
  await provider.interrupt(id, 30_000);
  await provider.terminate([id]);
  for (let i = 0; i < 150 && statusOf(id)?.status !== "terminated"; i++) await new Promise((x) => setTimeout(x, 20));
  const s = statusOf(id);
  assert.equal(s?.status, "terminated");
  assert.ok(s?.status === "terminated" && s.reason === "terminated" && s.notice?.action === "terminate", JSON.stringify(s));
  // A machine that is gone refuses: no process outlives its end, no write makes its disk anew.
  await assert.rejects(t.exec("sleep 60"), /has ended/);
  await assert.rejects(t.writeFile(".spotrun/control.json", "{}"), /has ended/);
  const stream = t.stream("sleep 60", { onStdout: () => {} });
  assert.match(String((await stream.done).error), /has ended/);
  assert.equal(existsSync(t.home), false, "the disk stays deleted");
});

test("a replayed trace is a ticked market: its clock, its offset into the trace, and refusals where it has no spot", async () => {
  const dir = await mkdtemp(join(tmpdir(), "spotrun-trace-"));
  // Ticks of 600 s; spot at trace ticks 0, 1, 3; replayed at 120× from 10 minutes in (trace tick 1).
  const file = join(dir, "zone.json");
  await writeFile(file, JSON.stringify({ metadata: { gap_seconds: 600 }, data: [1, 2, 0, 1] }));
  const clock = new FakeClock(1_000_000);
  const local = new LocalProvider({ home: dir, logger: silentLogger, clock });
  const resources = resourcesSchema.parse({ market: { trace: file, time_scale: 120, trace_start: "10m", notice: "1s" } });
  const m = local.tickedMarket(resources);
  assert.ok(m);
  assert.deepEqual(
    { epoch: m.epochMs, tick: m.tickMs, market: m.marketTickMs, first: m.firstTraceTick },
    {
      epoch: 1_000_000,
      tick: 5000,
      market: 600_000,
      first: 1,
    },
  );
  assert.deepEqual([0, 1, 2].map(m.spotAvailableAt), [true, false, true]);
  await clock.advance(5000);
  const refused = await local.launch(req("tok-trace", { resources }));
  assert.equal(refused.kind, "refused");
  if (refused.kind === "refused") assert.match(refused.message, /no spot capacity .* at trace tick 2/);
  await clock.advance(2000);
  assert.equal(local.tickedMarket(resources)?.epochMs, 1_000_000, "every job reads the one clock");
  assert.equal(local.tickedMarket(resourcesSchema.parse({ market: { notice: "1s" } })), undefined);
  assert.throws(
    () => local.validateResources(resourcesSchema.parse({ market: { trace: join(dir, "missing.json") } })),
    /market\.trace: cannot read/,
  );
  await rm(dir, { recursive: true, force: true });
});
