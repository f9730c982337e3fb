import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, test } from "node:test";
import { SpotrunError } from "../../../src/base/errors.js";
import { InstanceId } from "../../../src/base/ids.js";
import { silentLogger } from "../../../src/base/logger.js";
import { type LaunchRequest, TAG } from "../../../src/providers/provider.js";
import { VastClient } from "../../../src/providers/vast/client.js";
import { TAGS_ENV } from "../../../src/providers/vast/instance-tags.js";
import { VastProvider } from "../../../src/providers/vast/vast-provider.js";
import { InstanceStartError, type WaitProgress } from "../../../src/providers/vast/wait-for-running.js";
import type { CreateInstanceBody } from "../../../src/providers/vast/wire.js";
import { resourcesSchema } from "../../../src/spec/task-schema.js";
import { API_KEY, type Harness, harness, SteppingClock } from "./fixtures.js";

let h: Harness;
let clock: SteppingClock;
let provider: VastProvider;
let client: VastClient;

const setup = async (loadingPolls = 1) => {
  clock = new SteppingClock();
  h = await harness({ loadingPolls, now: () => clock.now() });
  client = new VastClient({ apiKey: API_KEY, baseUrl: h.server.url, clock });
  provider = new VastProvider({ home: h.home, logger: silentLogger, client, clock });
};
beforeEach(() => setup());
afterEach(() => h.close());

const resources = (over: Record<string, unknown> = {}) =>
  resourcesSchema.parse({
    provider: "vast",
    accelerators: "RTX_4090:1",
    min_reliability: 0.9,
    disk: 40,
    image: "pytorch/pytorch",
    ...over,
  });

const request = (over: Partial<LaunchRequest> = {}): LaunchRequest => ({
  token: "spotrun-j-abc-a0-n0",
  instanceTypes: ["RTX_4090:1"],
  spot: true,
  count: 1,
  tags: { [TAG.job]: "j-abc", [TAG.attempt]: "j-abc-a0", [TAG.managed]: "true" },
  resources: resources(),
  ...over,
});

const createBodies = () =>
  h.server.requestsTo("PUT", "/asks/").map((r) => ({ path: r.path, body: r.body as CreateInstanceBody }));

test("offers(resources): the task's resources as a bid search, cheapest first", async () => {
  const offers = await provider.offers(resources({ spot: true, max_price: 0.5 }));
  const sent = h.server.requestsTo("POST", "/bundles/")[0]?.body as Record<string, unknown>;
  assert.deepEqual(sent.gpu_name, { eq: "RTX 4090" });
  assert.deepEqual(sent.num_gpus, { eq: 1 });
  assert.deepEqual(sent.reliability, { gte: 0.9 });
  assert.deepEqual(sent.min_bid, { lte: 0.5 });
  assert.deepEqual(sent.disk_space, { gte: 40 });
  assert.equal(sent.type, "bid");
  assert.equal(sent.allocated_storage, 40);
  assert.deepEqual(
    offers.map((o) => [o.id, o.pricePerHour, o.spot]),
    [
      ["102", 0.15, true],
      ["101", 0.2, true],
    ],
  );
});

test("launch spot: bids the cheapest offer's min_bid, labels with the token, carries the tags; the same token adopts", async () => {
  const res = await provider.launch(request());
  assert.equal(res.kind, "launched");
  const [created] = createBodies();
  assert.equal(created?.path, "/api/v0/asks/102/");
  assert.equal(created?.body.price, 0.15);
  assert.equal(created?.body.label, "spotrun-j-abc-a0-n0");
  assert.equal(created?.body.image, "pytorch/pytorch");
  assert.equal(created?.body.disk, 40);
  assert.equal(created?.body.runtype, "ssh_direc ssh_proxy");
  assert.match(
    created?.body.onstart ?? "",
    /nothing to install/,
    "the controller ships the agent over SSH; onstart installs nothing",
  );
  // spotrun's own key goes to each instance it makes (`vastai attach ssh`), and SSH logs in with it.
  const attached = h.server.requestsTo("POST", "/instances/").filter((r) => r.path.endsWith("/ssh/"));
  assert.equal(attached.length, 1);
  const pub = (await readFile(join(h.home, "keys", "vast-ed25519.pub"), "utf8")).trim();
  assert.deepEqual(attached[0]?.body, { ssh_key: pub });
  const launchedId = res.kind === "launched" ? Number(res.instances[0]?.id) : 0;
  assert.deepEqual(h.server.instances.get(launchedId)?.sshKeys, [pub]);
  assert.deepEqual(JSON.parse(created?.body.env[TAGS_ENV] ?? "{}"), { ...request().tags, [TAG.spot]: "true" });
  const info = res.kind === "launched" ? res.instances[0] : undefined;
  assert.ok(info);
  assert.equal(info.provider, "vast");
  assert.equal(info.spot, true);
  assert.equal(info.status, "pending");
  assert.equal(info.pricePerHour, 0.15);
  assert.equal(info.onDemandPricePerHour, 0.38);
  assert.equal(info.instanceType, "RTX_4090:1");
  assert.equal(info.tags[TAG.job], "j-abc");

  const again = await provider.launch(request());
  assert.equal(again.kind, "launched");
  assert.equal(again.kind === "launched" ? again.instances[0]?.id : undefined, info.id);
  assert.equal(createBodies().length, 1, "a second launch with the same token creates nothing");
});

test("launch on-demand sends price null; a given offer is used as is", async () => {
  const offers = await provider.offers(resources({ spot: false }));
  const res = await provider.launch(request({ spot: false, offer: offers.find((o) => o.id === "101") }));
  assert.equal(res.kind, "launched");
  const [created] = createBodies();
  assert.equal(created?.path, "/api/v0/asks/101/");
  assert.equal(created?.body.price, null);
  assert.equal(res.kind === "launched" ? res.instances[0]?.spot : undefined, false);
});

test("a launch that names the GPU only in instanceTypes searches for it", async () => {
  const res = await provider.launch(
    request({ spot: false, instanceTypes: ["RTX_3090:1"], resources: resources({ accelerators: undefined }) }),
  );
  assert.equal(res.kind, "launched");
  const sent = h.server.requestsTo("POST", "/bundles/")[0]?.body as Record<string, unknown>;
  assert.deepEqual(sent.gpu_name, { eq: "RTX 3090" });
  assert.equal(createBodies()[0]?.path, "/api/v0/asks/103/");
});

test("launch refuses offers over the max price, and says when nothing matches", async () => {
  const over = await provider.launch(request({ spot: false, maxPrice: 0.3 }));
  assert.deepEqual(over.kind === "refused" ? [over.refusal, over.code] : over, ["capacity", "no_offers"]);
  const given = await provider.launch(
    request({ spot: false, maxPrice: 0.3, offer: (await provider.offers(resources({ spot: false })))[0] }),
  );
  assert.deepEqual(given.kind === "refused" ? [given.refusal, given.code] : given, ["price", "over_max_price"]);
  const none = await provider.launch(request({ resources: resources({ accelerators: "H200:8" }) }));
  assert.deepEqual(none.kind === "refused" ? [none.refusal, none.code] : none, ["capacity", "no_offers"]);
  assert.equal(createBodies().length, 0);
});

test("a create the API refuses becomes a typed refusal (no_such_ask → capacity)", async () => {
  const offer = (await provider.offers(resources({ spot: false })))[0];
  assert.ok(offer);
  await client.createInstance(Number(offer.id), {
    client_id: "me",
    image: "x",
    env: {},
    price: null,
    disk: 10,
    runtype: "ssh_proxy",
    label: "someone-else",
  });
  const res = await provider.launch(request({ spot: false, offer }));
  assert.deepEqual(res.kind === "refused" ? [res.refusal, res.code] : res, ["capacity", "no_such_ask"]);
});

test("waitForRunning: loading → running with backoff and progress", async () => {
  await h.close();
  await setup(3);
  const res = await provider.launch(request());
  const id = res.kind === "launched" ? (res.instances[0]?.id as InstanceId) : assert.fail("not launched");
  const seen: WaitProgress[] = [];
  const info = await provider.waitForRunning(id, { timeoutMs: 600_000, onProgress: (p) => seen.push(p) });
  assert.equal(info.status, "running");
  assert.equal(info.address, `127.0.0.1:${h.server.instances.get(Number(id))?.inst.ssh_port}`);
  assert.deepEqual(
    seen.map((p) => p.condition.kind),
    ["starting", "starting", "starting", "running"],
  );
  assert.deepEqual(clock.sleeps, [2000, 3000, 4500], "2 s, growing ×1.5");
});

test("an instance that never starts times out; launchRunning destroys it and takes the next offer", async () => {
  h.server.neverStart(102);
  const res = await provider.launch(request());
  const stuck = res.kind === "launched" ? (res.instances[0]?.id as InstanceId) : assert.fail("not launched");
  const started = clock.now();
  await assert.rejects(provider.waitForRunning(stuck, { timeoutMs: 120_000 }), (e: unknown) => {
    assert.ok(e instanceof InstanceStartError);
    assert.equal(e.failure, "timeout");
    assert.deepEqual(e.last, { kind: "starting", actual: "loading" });
    return true;
  });
  const expected: number[] = [];
  for (let delay = 2_000, spent = 0; spent < 120_000; delay = Math.min(30_000, delay * 1.5)) {
    expected.push(Math.min(delay, 120_000 - spent));
    spent += expected.at(-1) as number;
  }
  assert.deepEqual(clock.sleeps, expected, "backoff 2 s ×1.5 capped at 30 s, cut at the limit");
  assert.equal(clock.now() - started, 120_000);
  await provider.terminate([stuck]);

  const replaced: InstanceStartError[] = [];
  const run = await provider.launchRunning(request({ token: "spotrun-j-abc-a1-n0" }), {
    timeoutMs: 120_000,
    onReplace: (e) => replaced.push(e),
  });
  assert.equal(run.kind, "launched");
  const good = run.kind === "launched" ? run.instances[0] : undefined;
  assert.equal(good?.status, "running");
  assert.equal(replaced.length, 1);
  const creates = createBodies();
  assert.deepEqual(
    creates.map((c) => [c.path, c.body.label]),
    [
      ["/api/v0/asks/102/", "spotrun-j-abc-a0-n0"],
      ["/api/v0/asks/102/", "spotrun-j-abc-a1-n0"],
      ["/api/v0/asks/101/", "spotrun-j-abc-a1-n0-r1"],
    ],
  );
  const destroyed = h.server.requestsTo("DELETE", "/instances/").map((r) => r.path);
  assert.equal(destroyed.length, 2, "both never-starting instances were destroyed");
  assert.deepEqual([...h.server.instances.keys()], [Number(good?.id)]);
});

test("an instance still starting past the start limit reads as interrupted (never_started) and its machine is avoided", async () => {
  provider = new VastProvider({
    home: h.home,
    logger: silentLogger,
    client,
    clock,
    startTimeoutMs: 60_000,
    avoidMachineMs: 600_000,
  });
  h.server.neverStart(102);
  const res = await provider.launch(request());
  const id = res.kind === "launched" ? (res.instances[0]?.id as InstanceId) : assert.fail("not launched");
  clock.t += 30_000;
  assert.equal((await provider.describe([id]))[0]?.interrupted, undefined, "within the limit it is just pending");
  clock.t += 31_000;
  const [late] = await provider.describe([id]);
  assert.equal(late?.status, "pending");
  assert.equal(late?.interrupted?.reason, "never_started");
  await provider.terminate([id]);
  const offers = await provider.offers(resources({ spot: true }));
  assert.ok(!offers.some((o) => o.id === "102"), "the machine that never started is skipped");
  const next = await provider.launch(request({ token: "spotrun-j-abc-a1-n0" }));
  assert.equal(next.kind, "launched");
  assert.deepEqual(
    createBodies().map((c) => c.path),
    ["/api/v0/asks/102/", "/api/v0/asks/101/"],
  );
  clock.t += 600_001;
  assert.ok(
    (await provider.offers(resources({ spot: true }))).some((o) => o.id === "102"),
    "until the avoidance runs out",
  );
});

test("outbid: describe reports stopped + interrupted while intended running; a higher bid brings it back", async () => {
  const res = await provider.launch(request());
  const id = res.kind === "launched" ? (res.instances[0]?.id as InstanceId) : assert.fail("not launched");
  await provider.waitForRunning(id, { timeoutMs: 60_000 });
  const t0 = clock.now();
  h.server.outbid(Number(id), 0.3);
  const [outbid] = await provider.describe([id]);
  assert.equal(outbid?.status, "stopped");
  assert.deepEqual(outbid?.interrupted, { reason: "outbid", at: t0 });
  clock.t += 5_000;
  const [still] = await provider.describe([id]);
  assert.deepEqual(still?.interrupted, { reason: "outbid", at: t0 }, "the first sighting's time is kept");
  assert.equal((await provider.list({ [TAG.job]: "j-abc" }))[0]?.interrupted?.reason, "outbid");

  await client.changeBid(Number(id), 0.35);
  const back = await provider.waitForRunning(id, { timeoutMs: 60_000 });
  assert.equal(back.status, "running");
  assert.equal(back.interrupted, undefined);
  assert.equal(back.pricePerHour, 0.35);
});

test("a full disk is reported as such, by describe and by waitForRunning", async () => {
  const res = await provider.launch(request());
  const id = res.kind === "launched" ? (res.instances[0]?.id as InstanceId) : assert.fail("not launched");
  h.server.report(
    Number(id),
    "Error response from daemon: failed to register layer: write /opt/x: no space left on device",
    "exited",
  );
  const [info] = await provider.describe([id]);
  // A full disk is a failure the next attempt would hit too, not a preemption.
  assert.equal(info?.failure?.kind, "disk_full");
  assert.match(info?.failure?.message ?? "", /no space left on device/);
  assert.equal(info?.interrupted, undefined);
  await assert.rejects(
    provider.waitForRunning(id, { timeoutMs: 60_000 }),
    (e: unknown) => e instanceof InstanceStartError && e.failure === "disk_full",
  );
});

test("launchRunning gives up on a full disk with a user error saying to ask for more disk", async () => {
  const res = await provider.launch(request());
  const id = res.kind === "launched" ? Number(res.instances[0]?.id) : assert.fail("not launched");
  h.server.report(id, "no space left on device", "exited");
  await assert.rejects(provider.launchRunning(request(), { timeoutMs: 60_000 }), (e: unknown) => {
    assert.ok(e instanceof SpotrunError);
    assert.equal(e.code, "vast_disk_full");
    assert.match(e.fix ?? "", /resources\.disk/);
    return true;
  });
  assert.equal(h.server.instances.size, 0, "the broken instance was destroyed");
});

test("list by tags, terminate, and describe after the instance is gone", async () => {
  const a = await provider.launch(request());
  const b = await provider.launch(request({ token: "other", tags: { [TAG.job]: "j-other" } }));
  const idA = a.kind === "launched" ? (a.instances[0]?.id as InstanceId) : assert.fail("a");
  const idB = b.kind === "launched" ? (b.instances[0]?.id as InstanceId) : assert.fail("b");
  assert.deepEqual(
    (await provider.list({ [TAG.job]: "j-abc" })).map((i) => i.id),
    [idA],
  );
  await provider.terminate([idA, idB]);
  assert.deepEqual(
    h.server.requestsTo("DELETE", "/instances/").map((r) => [r.path, r.body]),
    [
      [`/api/v0/instances/${idA}/`, {}],
      [`/api/v0/instances/${idB}/`, {}],
    ],
  );
  assert.equal(h.server.instances.size, 0);
  const gone = await provider.describe([idA, InstanceId("424242")]);
  assert.deepEqual(
    gone.map((i) => i.status),
    ["terminated", "terminated"],
  );
  assert.equal(gone[0]?.tags[TAG.job], "j-abc", "what was known is kept");
  await provider.terminate([idA]);
  assert.deepEqual(await provider.list({ [TAG.job]: "j-abc" }), []);
});

test("provider basics: kind, no notice source, no agent env", () => {
  assert.equal(provider.kind, "vast");
  assert.equal(provider.noticeSource, "none");
});
