import assert from "node:assert/strict";
import { after, test } from "node:test";
import { InstanceId } from "../../../src/base/ids.js";
import type { ApiCall } from "../../../src/providers/api-calls.js";
import { ACCOUNT_LIMITS, CallBudget, type ProviderLimits } from "../../../src/providers/call-budget.js";
import { TAG } from "../../../src/providers/provider.js";
import type { Ec2World } from "../../servers/ec2/ec2-world.js";
import { type Ec2Fixture, startEc2Fixture } from "./ec2-fixture.js";

/**
 * The call budget through the real EC2 SDK client (SigV4, retries, XML errors) against the in-repo
 * EC2 server, which throttles per action as EC2 does. Budgets run on real time here; the SDK's
 * retry sleeps are the fixture's (recorded, not slept).
 */
const fixtures: Ec2Fixture[] = [];
// Newest first: each fixture restores the AWS environment the one before it found.
after(async () => {
  for (const f of fixtures.reverse()) await f.close();
});

/** An account whose DescribeInstances bucket holds 10 and refills at 20/s: at share 0.5 spotrun may use 5 and 10/s. */
const ACCOUNT: ProviderLimits = { read: { capacity: 10, refillPerSec: 20 }, write: ACCOUNT_LIMITS.aws.write };

async function fixture(budget: CallBudget) {
  const heard: ApiCall[] = [];
  const sent: number[] = [];
  const fx = await startEc2Fixture(
    {},
    {
      budget,
      onApiCall: (c) => {
        heard.push(c);
        sent.push(Date.now() - c.ms);
      },
    },
  );
  fixtures.push(fx);
  return { fx, heard, sent };
}

function seed(world: Ec2World, n: number, tags: (k: number) => Record<string, string>): string[] {
  return Array.from(
    { length: n },
    (_, k) =>
      world.newInstance({
        reservationId: world.newReservationId(),
        imageId: "ami-0spotrun",
        instanceType: "m7i.large",
        zone: "us-east-1a",
        spot: false,
        tags: tags(k),
        amiLaunchIndex: 0,
      }).id,
  );
}

/** The most requests that arrived within any `windowMs`. */
function busiest(ats: number[], windowMs: number): number {
  const t = [...ats].sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; j < t.length; j++) {
    while ((t[j] as number) - (t[i] as number) >= windowMs) i++;
    best = Math.max(best, j - i + 1);
  }
  return best;
}

test("50 concurrent describes from 50 jobs are held to the bucket's rate: the account never throttles, and every call is counted", async () => {
  const budget = new CallBudget({ share: 0.5, limits: { aws: ACCOUNT } });
  const { fx, heard, sent } = await fixture(budget);
  fx.server.rateLimit(ACCOUNT.read);
  const ids = seed(fx.server.world, 51, (k) => ({ [TAG.job]: `j-${k}` }));
  const scope = budget.scope("aws", "us-east-1");
  const burst = scope.capacity("read");
  const rate = scope.rate("read");
  assert.deepEqual([burst, rate], [5, 10]);
  // The client's first request resolves credentials and the endpoint; after it, requests leave as their tokens come.
  await fx.provider.describe([InstanceId(ids.pop() as string)]);
  await new Promise((r) => setTimeout(r, (burst / rate) * 1000));

  const t0 = Date.now();
  const got = await Promise.all(ids.map((id) => fx.provider.describe([InstanceId(id)])));
  const elapsed = Date.now() - t0;

  assert.deepEqual(
    got.map((g) => g.map((i) => i.id)),
    ids.map((id) => [id]),
  );
  const describes = fx.server.requests.filter((r) => r.action === "DescribeInstances").slice(1);
  assert.equal(describes.length, 50, "one DescribeInstances per job, no retries");
  assert.equal(fx.server.throttled(), 0, "the account's bucket was never emptied");
  // 5 go at once, the other 45 at 10 a second: at least 4.5 s however fast the machine.
  const floor = ((50 - burst) / rate) * 1000;
  assert.ok(elapsed >= floor - 50, `${elapsed} ms for 50 calls, the budget allows them in ${floor} ms at the earliest`);
  // When each request was let go (its answer's time less its duration): the budget's own discipline.
  // (Arrivals at the server bunch a little more: 50 commands in flight delay the client's sends.)
  const peak = busiest(sent.slice(1), 1000);
  assert.ok(peak <= burst + rate, `at most ${burst + rate} requests let go in any second, saw ${peak}`);
  assert.deepEqual(fx.provider.apiCalls(), {
    total: 51,
    ok: 51,
    throttled: 0,
    error: 0,
    byAction: { DescribeInstances: { ok: 51, throttled: 0, error: 0 } },
  });
  assert.equal(heard.length, 51);
  assert.ok(heard.every((c) => c.provider === "aws" && c.region === "us-east-1" && c.outcome === "ok"));
  assert.ok(
    heard.some((c) => c.waitedMs >= 1000),
    "the last callers waited for their tokens",
  );
});

test("the same burst without the budget's share (limits far above the account's) is throttled by EC2: the peer of the test above", async () => {
  const budget = new CallBudget({
    share: 1,
    limits: { aws: { read: { capacity: 10_000, refillPerSec: 10_000 }, write: ACCOUNT_LIMITS.aws.write } },
  });
  const { fx, heard } = await fixture(budget);
  fx.server.rateLimit(ACCOUNT.read);
  const ids = seed(fx.server.world, 50, (k) => ({ [TAG.job]: `j-${k}` }));
  await Promise.all(ids.map((id) => fx.provider.describe([InstanceId(id)]).catch(() => [])));
  const throttled = fx.server.throttled("DescribeInstances");
  assert.ok(throttled >= 10, `EC2 answered RequestLimitExceeded ${throttled} times`);
  const counts = fx.provider.apiCalls();
  assert.equal(
    counts.byAction.DescribeInstances?.throttled,
    throttled,
    "each throttled attempt is counted as throttled, by its code",
  );
  assert.equal(counts.total, fx.server.requests.filter((r) => r.action === "DescribeInstances").length, "every attempt counted");
  assert.equal(heard.filter((c) => c.outcome === "throttled").length, throttled);
  assert.ok(budget.scope("aws", "us-east-1").rateFactor() < 1, "and the throttles slowed the provider down");
});

test("one throttled answer slows the whole provider: the other jobs' calls wait at the halved rate, and the counts are exact", async () => {
  const budget = new CallBudget({ share: 0.5, limits: { aws: ACCOUNT } });
  const { fx, heard } = await fixture(budget);
  const ids = seed(fx.server.world, 21, (k) => ({ [TAG.job]: `j-${k}` }));
  const scope = budget.scope("aws", "us-east-1");
  const full = scope.rate("read");

  fx.server.throttle(1, "DescribeInstances");
  const [first] = await fx.provider.describe([InstanceId(ids[0] as string)]);
  assert.equal(first?.id, ids[0], "job 0's call was throttled, retried by the SDK, and answered");
  assert.deepEqual(
    heard.map((c) => c.outcome),
    ["throttled", "ok"],
  );
  const f0 = scope.rateFactor();
  assert.ok(f0 <= 0.52, `the rate was halved (then crept up by one answer): factor ${f0}`);
  assert.ok(scope.rate("write") < ACCOUNT_LIMITS.aws.write.refillPerSec * 0.5, "mutating calls slowed too");

  // Twenty other jobs now find the bucket empty and its refill halved.
  const tokens0 = scope.tokens("read");
  const t0 = Date.now();
  await Promise.all(ids.slice(1).map((id) => fx.provider.describe([InstanceId(id)])));
  const elapsed = Date.now() - t0;
  let floor = -(Math.max(0, tokens0) / (full * f0)) * 1000;
  for (let k = 0; k < 20; k++) floor += 1000 / (full * Math.min(1, f0 + k * budget.options.increasePerOk));
  const atFull = (20 / full) * 1000;
  assert.ok(elapsed >= floor - 50, `${elapsed} ms; AIMD allows no less than ${Math.round(floor)} ms`);
  assert.ok(elapsed > atFull * 1.3, `${elapsed} ms, vs ${atFull} ms for the same calls at the full rate`);

  assert.deepEqual(fx.provider.apiCalls(), {
    total: 22,
    ok: 21,
    throttled: 1,
    error: 0,
    byAction: { DescribeInstances: { ok: 21, throttled: 1, error: 0 } },
  });
  assert.equal(fx.server.requests.filter((r) => r.action === "DescribeInstances").length, 22);
  assert.ok(scope.rateFactor() > f0, "every answer since crept the rate back up");
});

test("list of 2,500 tagged instances is 3 paged DescribeInstances calls (MaxResults 1000 + NextToken); describe of 450 ids is 3 calls of at most 200 ids", async () => {
  const { fx } = await fixture(new CallBudget());
  const store = "st-0123456789";
  const ids = seed(fx.server.world, 2500, (k) => ({ [TAG.managed]: store, [TAG.job]: `j-${k % 97}` }));
  seed(fx.server.world, 100, () => ({ [TAG.managed]: "another-store" }));

  const listed = await fx.provider.list({ [TAG.managed]: store });
  assert.equal(listed.length, 2500);
  assert.deepEqual(new Set(listed.map((i) => i.id)), new Set(ids));
  const pages = fx.server.received("DescribeInstances");
  assert.equal(pages.length, 3);
  assert.deepEqual(
    pages.map((p) => [p.MaxResults, p.NextToken !== undefined, p["Filter.1.Name"], p["Filter.1.Value.1"]]),
    [
      ["1000", false, `tag:${TAG.managed}`, store],
      ["1000", true, `tag:${TAG.managed}`, store],
      ["1000", true, `tag:${TAG.managed}`, store],
    ],
  );

  const some = ids.slice(0, 450).map(InstanceId);
  const described = await fx.provider.describe(some);
  assert.equal(described.length, 450);
  const batches = fx.server.received("DescribeInstances").slice(3);
  assert.equal(batches.length, 3);
  assert.deepEqual(
    batches.map((p) => Object.keys(p).filter((k) => /^Filter\.1\.Value\.\d+$/.test(k)).length),
    [200, 200, 50],
  );
  assert.deepEqual(fx.provider.apiCalls().byAction, { DescribeInstances: { ok: 6, throttled: 0, error: 0 } });
});
