import assert from "node:assert/strict";
import { test } from "node:test";
import { type Clock, FakeClock } from "../../../src/base/clock.js";
import { SpotrunError } from "../../../src/base/errors.js";
import { type ApiCall, ApiCallMeter } from "../../../src/providers/api-calls.js";
import { ACCOUNT_LIMITS, CallBudget, parseApiShare } from "../../../src/providers/call-budget.js";

const settle = () => new Promise((r) => setImmediate(r));

/** Acquire `n` tokens and note, per caller, when (on the fake clock) it was served. */
function acquireMany(budget: CallBudget, clock: FakeClock, n: number, region = "us-east-1", cls: "read" | "write" = "read") {
  const served: { i: number; at: number }[] = [];
  const scope = budget.scope("aws", region);
  const all = Array.from({ length: n }, (_, i) => scope.acquire(cls).then(() => served.push({ i, at: clock.now() })));
  return { served, all: Promise.all(all) };
}

test("a full bucket serves its burst at once (the account's limit times the share), then one call per 1/rate", async () => {
  const clock = new FakeClock();
  const budget = new CallBudget({ clock, share: 0.5 });
  const scope = budget.scope("aws", "us-east-1");
  const burst = ACCOUNT_LIMITS.aws.read.capacity * 0.5;
  const rate = ACCOUNT_LIMITS.aws.read.refillPerSec * 0.5;
  assert.equal(scope.capacity("read"), 50);
  assert.equal(scope.rate("read"), 10);
  const t0 = clock.now();
  const { served } = acquireMany(budget, clock, burst + 3);
  await settle();
  assert.equal(served.length, burst, "the burst is served without waiting");
  assert.ok(served.every((s) => s.at === t0));
  await clock.advance(1000 / rate - 1);
  assert.equal(served.length, burst, "the next token is not there before 1/rate");
  await clock.advance(1);
  assert.equal(served.length, burst + 1);
  await clock.advance(2000 / rate);
  assert.equal(served.length, burst + 3);
  assert.deepEqual(
    served.slice(burst).map((s) => s.at - t0),
    [100, 200, 300],
  );
});

test("waiting callers are served in the order they asked, one per token", async () => {
  const clock = new FakeClock();
  const budget = new CallBudget({
    clock,
    share: 0.5,
    limits: { aws: { read: { capacity: 2, refillPerSec: 10 }, write: ACCOUNT_LIMITS.aws.write } },
  });
  // share 0.5: a burst of 1 and 5 tokens a second
  const { served, all } = acquireMany(budget, clock, 12);
  await settle();
  await clock.advance(60_000);
  await all;
  assert.deepEqual(
    served.map((s) => s.i),
    Array.from({ length: 12 }, (_, i) => i),
    "first come, first served",
  );
  const gaps = served.slice(1).map((s, k) => s.at - (served[k] as { at: number }).at);
  assert.deepEqual(gaps, Array(11).fill(200), "one token every 200 ms after the burst of 1");
});

test("a throttled answer halves the rate of the whole provider and region (every class), once per burst of throttles", async () => {
  const clock = new FakeClock();
  const budget = new CallBudget({ clock, share: 0.5 });
  const east = budget.scope("aws", "us-east-1");
  const west = budget.scope("aws", "us-west-2");
  assert.equal(east.rate("read"), 10);
  assert.equal(east.rate("write"), 2.5);
  east.feedback("throttled");
  assert.equal(east.rate("read"), 5, "halved");
  assert.equal(east.rate("write"), 1.25, "mutating calls slow down too");
  assert.equal(west.rate("read"), 10, "another region is another account bucket");
  assert.ok(east.tokens("read") <= 0, "what was left in the bucket is dropped: the account's is empty");
  // Calls in flight together all come back throttled: that is one signal, not ten.
  for (let i = 0; i < 9; i++) east.feedback("throttled");
  assert.equal(east.rate("read"), 5);
  await clock.advance(1000);
  east.feedback("throttled");
  assert.equal(east.rate("read"), 2.5, "a throttle after the cooldown halves again");
  // The next caller waits for a token at the halved rate: 1 / 2.5 s, minus what refilled since.
  const left = east.tokens("read");
  let served = false;
  void east.acquire("read").then(() => {
    served = true;
  });
  const due = Math.ceil(((1 - left) / 2.5) * 1000);
  await clock.advance(due - 1);
  assert.equal(served, false);
  await clock.advance(1);
  assert.equal(served, true);
});

test("answers that are not throttled creep the rate back (additively), and it never drops below the floor", async () => {
  const clock = new FakeClock();
  const budget = new CallBudget({ clock, share: 1, cutCooldownMs: 0 });
  const s = budget.scope("gcp", "global");
  s.feedback("throttled");
  assert.equal(s.rateFactor(), 0.5);
  for (let i = 0; i < 25; i++) s.feedback("ok");
  assert.ok(Math.abs(s.rateFactor() - 0.75) < 1e-9, `25 answers: ${s.rateFactor()}`);
  s.feedback("error");
  assert.ok(Math.abs(s.rateFactor() - 0.75) < 1e-9, "an error that is not a throttle says nothing about the rate");
  for (let i = 0; i < 100; i++) s.feedback("ok");
  assert.equal(s.rateFactor(), 1, "capped at the full share");
  for (let i = 0; i < 20; i++) s.feedback("throttled");
  assert.equal(s.rateFactor(), 1 / 16, "the floor keeps every call possible");
  assert.equal(s.rate("read"), ACCOUNT_LIMITS.gcp.read.refillPerSec / 16);
});

test("a caller never waits past maxWaitMs: it goes ahead on credit, and the ones behind it pay", async () => {
  const clock = new FakeClock();
  const budget = new CallBudget({
    clock,
    share: 1,
    maxWaitMs: 1000,
    limits: { vast: { read: { capacity: 1, refillPerSec: 0.1 }, write: ACCOUNT_LIMITS.vast.write } },
  });
  const s = budget.scope("vast", "global");
  await s.acquire("read");
  let served = false;
  void s.acquire("read").then(() => {
    served = true;
  });
  await clock.advance(999);
  assert.equal(served, false);
  await clock.advance(1);
  assert.equal(served, true, "served at the bound, 9 s before its token");
  assert.ok(s.tokens("read") < 0, `the bucket is in debt: ${s.tokens("read")}`);
});

test("a clock whose sleeps return at once cannot make acquire spin: each sleep moves the budget's time on", async () => {
  const sleeps: number[] = [];
  const clock: Clock = { now: () => 0, sleep: async (ms) => void sleeps.push(ms) };
  const budget = new CallBudget({ clock, share: 0.5 });
  const scope = budget.scope("aws", "us-east-1");
  await Promise.all(Array.from({ length: 60 }, () => scope.acquire("read")));
  assert.equal(sleeps.length, 10, "one sleep per token beyond the burst of 50");
  assert.ok(sleeps.every((ms) => ms === 100));
});

test("SPOTRUN_API_SHARE: a fraction in (0, 1], else a usage error that names the variable and what to give", () => {
  assert.equal(parseApiShare(undefined), 0.5);
  assert.equal(parseApiShare(""), 0.5);
  assert.equal(parseApiShare("0.25"), 0.25);
  assert.equal(parseApiShare(" 1 "), 1);
  for (const bad of ["0", "-0.5", "1.5", "half", "NaN", "Infinity"]) {
    assert.throws(
      () => parseApiShare(bad),
      (e: unknown) =>
        e instanceof SpotrunError &&
        e.kind === "usage" &&
        e.message.includes("SPOTRUN_API_SHARE") &&
        /above 0 and at most 1/.test(e.fix ?? ""),
      bad,
    );
  }
  const saved = process.env.SPOTRUN_API_SHARE;
  try {
    process.env.SPOTRUN_API_SHARE = "0.25";
    assert.equal(new CallBudget().scope("aws", "eu-west-1").capacity("read"), 25);
    process.env.SPOTRUN_API_SHARE = "2";
    assert.throws(() => new CallBudget(), SpotrunError);
  } finally {
    if (saved === undefined) delete process.env.SPOTRUN_API_SHARE;
    else process.env.SPOTRUN_API_SHARE = saved;
  }
});

test("the meter counts by action and outcome, feeds the outcome back to the shared scope, and survives a listener that throws", async () => {
  const clock = new FakeClock();
  const budget = new CallBudget({ clock, share: 0.5 });
  const heard: ApiCall[] = [];
  const meter = new ApiCallMeter("aws", budget, (c) => heard.push(c));
  meter.onApiCall(() => {
    throw new Error("a broken listener");
  });
  const throttle = Object.assign(new Error("slow down"), { name: "RequestLimitExceeded" });
  const outcomeOf = (e: unknown) => ((e as Error).name === "RequestLimitExceeded" ? "throttled" : "error");
  await meter.run("us-east-1", "DescribeInstances", "read", async () => 1, outcomeOf);
  await assert.rejects(meter.run("us-east-1", "RunInstances", "write", async () => Promise.reject(new Error("x")), outcomeOf));
  assert.equal(budget.scope("aws", "us-east-1").rateFactor(), 1, "an error is not a throttle");
  await assert.rejects(
    meter.run("us-east-1", "DescribeInstances", "read", async () => Promise.reject(throttle), outcomeOf),
    throttle,
  );
  assert.deepEqual(meter.counts(), {
    total: 3,
    ok: 1,
    throttled: 1,
    error: 1,
    byAction: { DescribeInstances: { ok: 1, throttled: 1, error: 0 }, RunInstances: { ok: 0, throttled: 0, error: 1 } },
  });
  assert.deepEqual(
    heard.map((c) => [c.provider, c.region, c.action, c.outcome]),
    [
      ["aws", "us-east-1", "DescribeInstances", "ok"],
      ["aws", "us-east-1", "RunInstances", "error"],
      ["aws", "us-east-1", "DescribeInstances", "throttled"],
    ],
  );
  assert.equal(budget.scope("aws", "us-east-1").rateFactor(), 0.5, "the throttle reached the shared scope");
});
