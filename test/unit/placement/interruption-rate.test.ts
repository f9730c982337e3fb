import assert from "node:assert/strict";
import { test } from "node:test";
import { gammaQuantile } from "../../../src/placement/gamma.js";
import { ASSUMED_SPOT_RISK_PER_HOUR, estimateRate, PRIOR_HOURS } from "../../../src/placement/interruption-rate.js";

const prior = { perHour: ASSUMED_SPOT_RISK_PER_HOUR, hours: PRIOR_HOURS };
const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-12, `${what}: ${a} vs ${b}`);

test("with nothing seen the estimate is the prior: 5 %/h worth 24 instance-hours", () => {
  const e = estimateRate({ hours: 0, preemptions: 0 }, prior);
  close(e.perHour, 0.05, "mean");
  assert.equal(e.observedPerHour, null);
  // Gamma(1.2, 24): its own 5 % and 95 % points.
  close(e.low, gammaQuantile(0.05, 1.2, 24), "low");
  close(e.high, gammaQuantile(0.95, 1.2, 24), "high");
  assert.ok(e.low < 0.05 && e.high > 0.05);
});

test("k preemptions in T hours give the Gamma(α₀ + k, β₀ + T) posterior", () => {
  const e = estimateRate({ hours: 41, preemptions: 3 }, prior);
  close(e.perHour, (1.2 + 3) / (24 + 41), "mean");
  close(e.observedPerHour ?? Number.NaN, 3 / 41, "observed");
  close(e.high, gammaQuantile(0.95, 4.2, 65), "high");
  // A quiet pool drifts below the prior; it never reaches 0 on a finite sample.
  const quiet = estimateRate({ hours: 200, preemptions: 0 }, prior);
  assert.ok(quiet.perHour < 0.05 / 8 && quiet.perHour > 0);
});

test("much data outweighs the prior, and narrows the interval around what was observed", () => {
  const few = estimateRate({ hours: 50, preemptions: 10 }, prior);
  const many = estimateRate({ hours: 5000, preemptions: 1000 }, prior);
  assert.ok(Math.abs(many.perHour - 0.2) < 0.001, `${many.perHour}`);
  assert.ok(many.low < 0.2 && 0.2 < many.high);
  assert.ok(many.high - many.low < (few.high - few.low) / 5);
  // A stronger prior holds the estimate nearer to itself.
  const stubborn = estimateRate({ hours: 50, preemptions: 10 }, { perHour: 0.05, hours: 500 });
  assert.ok(stubborn.perHour < few.perHour && stubborn.perHour > 0.05);
});

test("a prior of 0 with nothing preempted is 0, and bad inputs are refused", () => {
  assert.deepEqual(estimateRate({ hours: 10, preemptions: 0 }, { perHour: 0, hours: 24 }), {
    perHour: 0,
    low: 0,
    high: 0,
    observedPerHour: 0,
  });
  assert.throws(() => estimateRate({ hours: -1, preemptions: 0 }, prior), RangeError);
});
