import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { JobId } from "../../../src/base/ids.js";
import { awayPeriods, sessionState } from "../../../src/sessions/session-view.js";
import type { EventRow } from "../../../src/state/state-store.js";

let seq = 0;
const ev = (at: number, kind: string, data: Record<string, unknown>): EventRow => ({
  seq: ++seq,
  job_id: JobId("j-1"),
  at,
  kind,
  data: JSON.stringify(data),
});

describe("session views", () => {
  test("away: from the notice on the old instance to the run on the next one", () => {
    const events = [
      ev(1_000, "run_started", { attempt: 0, restart: false }),
      ev(10_000, "notice", { attempt: 0 }),
      ev(12_000, "attempt_ended", { attempt: 0, end: "preempted" }),
      ev(14_000, "run_started", { attempt: 1, restart: true }),
      // A loss without a notice counts from the attempt's end.
      ev(20_000, "attempt_ended", { attempt: 1, end: "preempted" }),
      ev(27_500, "run_started", { attempt: 2, restart: true }),
    ];
    assert.deepEqual(awayPeriods(events, 99_000), [
      { from_attempt: 0, notice_at: 10_000, back_at: 14_000, ms: 4_000 },
      { from_attempt: 1, notice_at: 20_000, back_at: 27_500, ms: 7_500 },
    ]);
  });

  test("away and still not back: counted until now", () => {
    const events = [ev(5_000, "notice", { attempt: 0 }), ev(6_000, "attempt_ended", { attempt: 0, end: "preempted" })];
    assert.deepEqual(awayPeriods(events, 9_000), [{ from_attempt: 0, notice_at: 5_000, back_at: null, ms: 4_000 }]);
    assert.deepEqual(awayPeriods([ev(1, "attempt_ended", { attempt: 0, end: "cancelled" })], 9), []);
  });

  test("states a person reads", () => {
    assert.equal(sessionState("RUNNING", 0, false), "running");
    assert.equal(sessionState("PROVISIONING", 0, false), "starting");
    assert.equal(sessionState("PROVISIONING", 1, false), "recovering");
    assert.equal(sessionState("RECOVERING", 1, false), "recovering");
    assert.equal(sessionState("RUNNING", 0, true), "stopping");
    assert.equal(sessionState("CANCELLED", 0, true), "stopped");
    assert.equal(sessionState("SUCCEEDED", 0, false), "ended");
    assert.equal(sessionState("FAILED", 0, false), "failed");
    assert.equal(sessionState(undefined, 0, false), "stopped");
  });
});
