import assert from "node:assert/strict";
import { test } from "node:test";
import { FakeClock } from "../../../src/base/clock.js";
import { ExternalError } from "../../../src/base/errors.js";
import { silentLogger } from "../../../src/base/logger.js";
import { InstanceObserver } from "../../../src/core/instance-observer.js";
import { TAG } from "../../../src/providers/provider.js";
import { FakeProvider } from "../../support/fake-provider.js";

const setup = (opts: { missingGraceMs?: number } = {}, unsettledListing = false) => {
  const clock = new FakeClock();
  const provider = new FakeProvider(() => clock.now(), { unsettledListing });
  const woken: string[] = [];
  const observer = new InstanceObserver({
    clock,
    logger: silentLogger,
    storeTag: () => "store-1",
    onChange: (j) => woken.push(j),
    ...opts,
  });
  return { clock, provider, observer, woken };
};

const launchMany = async (p: FakeProvider, n: number) => {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await p.launch({
      token: `t${i}`,
      instanceTypes: ["x"],
      spot: true,
      count: 1,
      tags: { [TAG.managed]: "store-1", [TAG.job]: `j-${i}`, [TAG.attempt]: "0" },
      resources: {} as never,
    });
    if (r.kind === "launched") ids.push(r.instances[0]?.id as string);
  }
  p.calls.length = 0;
  return ids;
};

test("a thousand jobs share one listing per interval: calls per minute do not grow with the jobs", async () => {
  const { clock, provider, observer } = setup();
  const ids = await launchMany(provider, 1000);
  for (let minute = 0; minute < 60_000; minute += 1000) {
    await Promise.all(ids.map((id) => observer.view(provider, [id])));
    await clock.advance(1000);
  }
  assert.equal(provider.count("list"), 6, "one listing every 10 s");
  assert.equal(provider.count("describe"), 0);
  const s = (await observer.view(provider, [ids[0] as string])).get(ids[0] as string);
  assert.equal(s?.kind, "seen");
  assert.deepEqual(provider.calls[0]?.args, { [TAG.managed]: "store-1" });
});

test("jobs in transition get a quick describe, coalesced across jobs into one call, no more than every 2 s", async () => {
  const { clock, provider, observer } = setup();
  const ids = await launchMany(provider, 50);
  await observer.view(provider, ids); // the first listing
  provider.calls.length = 0;
  await clock.advance(2000);
  await Promise.all(ids.map((id) => observer.view(provider, [id], { hurry: true })));
  assert.equal(provider.count("describe"), 1, "one call for all fifty");
  assert.equal((provider.calls[0]?.args as string[] | undefined)?.length, 50);
  await clock.advance(500);
  await Promise.all(ids.map((id) => observer.view(provider, [id], { hurry: true })));
  assert.equal(provider.count("describe"), 1, "not again within 2 s");
  assert.equal(provider.count("list"), 0);
});

test("an instance the listing misses is described by id; not found past the grace it is gone, and its job is woken when it changes", async () => {
  const { clock, provider, observer, woken } = setup({ missingGraceMs: 60_000 });
  const [a, b] = await launchMany(provider, 2);
  provider.unlisted.add(b as string);
  let v = await observer.view(provider, [a as string, b as string]);
  assert.equal(v.get(b as string)?.kind, "seen", "described by id after the listing missed it");
  assert.deepEqual(
    provider.calls.map((c) => c.method),
    ["list", "describe"],
  );
  assert.deepEqual(provider.calls[1]?.args, [b]);
  // The provider forgets it entirely: missing, then gone once the grace has passed.
  provider.instances.delete(b as string);
  await clock.advance(10_000);
  v = await observer.view(provider, [b as string]);
  assert.equal(v.get(b as string)?.kind, "missing");
  assert.deepEqual(woken, ["j-1"]);
  await clock.advance(60_000);
  v = await observer.view(provider, [b as string]);
  assert.equal(v.get(b as string)?.kind, "gone");
  // A reclaim of the other one: seen in the next listing, and its job is woken.
  const ia = provider.instances.get(a as string);
  if (ia) provider.instances.set(a as string, { ...ia, interrupted: { reason: "outbid", at: clock.now() } });
  await clock.advance(10_000);
  v = await observer.view(provider, [a as string]);
  assert.equal(
    v.get(a as string)?.kind === "seen" &&
      (v.get(a as string) as { info: { interrupted?: unknown } }).info.interrupted !== undefined,
    true,
  );
  assert.ok(woken.includes("j-0"));
});

test("a throttled listing backs the whole provider off and keeps the last view", async () => {
  const { clock, provider, observer } = setup();
  const [a] = await launchMany(provider, 1);
  await observer.view(provider, [a as string]);
  provider.failNext = new ExternalError("ec2", "RequestLimitExceeded", "slow down", true);
  await clock.advance(10_000);
  const v = await observer.view(provider, [a as string]);
  assert.equal(v.get(a as string)?.kind, "seen", "the last view stands");
  const lists = () => provider.count("list");
  assert.equal(lists(), 2);
  await clock.advance(10_000);
  await observer.view(provider, [a as string]);
  assert.equal(lists(), 2, "after a failure the next listing waits twice as long");
  await clock.advance(10_000);
  await observer.view(provider, [a as string]);
  assert.equal(lists(), 3);
  await clock.advance(10_000);
  await observer.view(provider, [a as string]);
  assert.equal(lists(), 4, "a success restores the steady interval");
});

test("the reaper's listing is the same listing, and a terminated instance is not offered to it again", async () => {
  const { provider, observer } = setup();
  const [a] = await launchMany(provider, 1);
  await observer.view(provider, [a as string]);
  const listing = await observer.listing(provider);
  assert.equal(listing.length, 1);
  assert.equal(provider.count("list"), 1);
  observer.ended(provider, [a as string]);
  assert.equal((await observer.listing(provider))[0]?.status, "terminated");
});

test("with a provider that lists only what is not running, a running fleet costs one short listing per interval and a full one every 5 min", async () => {
  const { clock, provider, observer, woken } = setup({}, true);
  const ids = await launchMany(provider, 1000);
  for (let t = 0; t < 300_000; t += 1000) {
    await Promise.all(ids.map((id) => observer.view(provider, [id])));
    await clock.advance(1000);
  }
  assert.equal(provider.count("list"), 1, "the whole fleet once");
  assert.equal(provider.count("listUnsettled"), 29, "then what is not running, every 10 s");
  assert.equal(provider.count("describe"), 0, "running instances left out of the short listing are not described");
  const s = (await observer.view(provider, [ids[0] as string])).get(ids[0] as string);
  assert.equal(s?.kind, "seen");
  assert.equal(provider.count("list"), 2, "the next full listing is due at 5 min");
  // A reclaim shows in the short listing (a terminated instance is not running): seen, and its job woken.
  const victim = ids[7] as string;
  const info = provider.instances.get(victim);
  if (info) provider.instances.set(victim, { ...info, status: "terminated", interrupted: { reason: "outbid", at: clock.now() } });
  await clock.advance(10_000);
  const v = (await observer.view(provider, [victim])).get(victim);
  assert.equal(v?.kind === "seen" && v.info.status, "terminated");
  assert.equal(provider.count("listUnsettled"), 30);
  assert.ok(woken.includes("j-7"));
});

test("with the short listing, the reaper's listing still holds what was launched and runs since the last full one", async () => {
  const { clock, provider, observer } = setup({}, true);
  await observer.view(provider, []); // the full listing, of nothing yet
  const ids = await launchMany(provider, 3);
  await clock.advance(1000);
  await observer.view(provider, ids, { fresh: true }); // described once, running
  await clock.advance(10_000);
  const listing = await observer.listing(provider);
  assert.deepEqual(listing.map((i) => i.id).sort(), [...ids].sort());
  assert.deepEqual(
    provider.calls.map((c) => c.method),
    ["describe", "listUnsettled"],
  );
});

test("an instance last seen starting that drops out of the short listing is described (it may run now, or be gone)", async () => {
  const { clock, provider, observer } = setup({}, true);
  const [a] = await launchMany(provider, 1);
  const info = provider.instances.get(a as string);
  if (info) provider.instances.set(a as string, { ...info, status: "pending" });
  await observer.view(provider, [a as string]);
  if (info) provider.instances.set(a as string, { ...info, status: "running" });
  await clock.advance(10_000);
  const v = (await observer.view(provider, [a as string])).get(a as string);
  assert.deepEqual(
    provider.calls.map((c) => c.method),
    ["list", "listUnsettled", "describe"],
  );
  assert.equal(v?.kind === "seen" && v.info.status, "running");
});
