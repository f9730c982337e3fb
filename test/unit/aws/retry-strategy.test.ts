import assert from "node:assert/strict";
import { test } from "node:test";
import type { Clock } from "../../../src/base/clock.js";
import { seededRandom } from "../../../src/base/random.js";
import { JitterRetryStrategy } from "../../../src/providers/aws/retry-strategy.js";

function recorder() {
  const sleeps: number[] = [];
  const clock: Clock = { now: () => 0, sleep: async (ms) => void sleeps.push(ms) };
  return { sleeps, clock };
}

test("throttling and 5xx are retried with growing, capped, jittered delays, then given up", async () => {
  const { sleeps, clock } = recorder();
  const s = new JitterRetryStrategy({ maxAttempts: 5, baseMs: 100, capMs: 700 }, clock, seededRandom(1));
  let token = await s.acquireInitialRetryToken("");
  for (let i = 0; i < 4; i++)
    token = await s.refreshRetryTokenForRetry(token, { errorType: i % 2 ? "SERVER_ERROR" : "THROTTLING" });
  assert.equal(token.getRetryCount(), 4);
  assert.equal(token.getRetryDelay(), 0, "the wait happened on our clock, the SDK adds none");
  await assert.rejects(s.refreshRetryTokenForRetry(token, { errorType: "THROTTLING" }));
  assert.equal(sleeps.length, 4);
  const bounds = [400, 400, 700, 700]; // throttling doubles the base; capMs bounds the rest
  for (const [i, ms] of sleeps.entries()) assert.ok(ms >= 1 && ms <= (bounds[i] as number), `retry ${i + 1}: ${ms} ms`);
  assert.ok(new Set(sleeps).size > 1, "jittered, not constant");
});

test("client errors are not retried", async () => {
  const { sleeps, clock } = recorder();
  const s = new JitterRetryStrategy(undefined, clock);
  await assert.rejects(s.refreshRetryTokenForRetry(await s.acquireInitialRetryToken(""), { errorType: "CLIENT_ERROR" }));
  assert.equal(sleeps.length, 0);
});
