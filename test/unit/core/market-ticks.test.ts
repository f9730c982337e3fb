import assert from "node:assert/strict";
import { test } from "node:test";
import { JobId } from "../../../src/base/ids.js";
import {
  DECISION_PHASE,
  decidedTickAt,
  decisionPointOf,
  firstTickOf,
  tickObservation,
  workDoneByTick,
} from "../../../src/core/market-ticks.js";
import { progressMarks } from "../../../src/core/progress.js";
import type { TickedMarket } from "../../../src/providers/provider.js";
import type { AttemptRow, EventRow } from "../../../src/state/state-store.js";

// 10-minute trace ticks replayed at 5 s each, from wall time 1000; spot gone at ticks 3 and 4.
const gone = new Set([3, 4]);
const m: TickedMarket = {
  epochMs: 1000,
  tickMs: 5000,
  marketTickMs: 600_000,
  firstTraceTick: 20,
  spotAvailableAt: (t) => !gone.has(t),
};
const at = (tick: number, plusMs = 0) => m.epochMs + tick * m.tickMs + plusMs;

const attempt = (idx: number, started: number, ended?: { at: number; kind: string }): AttemptRow => ({
  job_id: JobId("j"),
  idx,
  state: ended ? "ENDED" : "RUNNING",
  spot: true,
  instance_type: "t",
  started_at: started,
  ended_at: ended?.at ?? null,
  end_kind: ended?.kind ?? null,
  end_detail: null,
  events_offset: 0,
  log_offset: 0,
  agent_started: true,
  notice_at: null,
  last_heartbeat: null,
  stop_reason: null,
});
let seq = 0;
const ev = (atMs: number, kind: string, attemptIdx: number): EventRow => ({
  seq: ++seq,
  job_id: JobId("j"),
  at: atMs,
  kind,
  data: JSON.stringify({ attempt: attemptIdx }),
});

test("decisions fall a fifth into each tick; a job starts at the first decision point after its submission", () => {
  assert.equal(DECISION_PHASE, 0.2);
  assert.equal(decisionPointOf(m, 3), at(3, 1000));
  assert.equal(decidedTickAt(m, at(3, 999)), 2, "before tick 3's decision point, tick 2's decision stands");
  assert.equal(decidedTickAt(m, at(3, 1000)), 3);
  assert.equal(decidedTickAt(m, at(0, 500)), -1, "nothing decided before the first point");
  assert.equal(firstTickOf(m, at(0, -300)), 0, "submitted before the market's clock started");
  assert.equal(firstTickOf(m, at(2, 900)), 2, "submitted in time for tick 2's decision");
  assert.equal(firstTickOf(m, at(2, 1100)), 3, "too late for tick 2's");
});

test("work is counted to the start of the tick, each ended attempt no further than the tick it ended in", () => {
  // Attempt 0: launched at tick 0's decision point, ran from 0.9 into tick 0, reclaimed at tick 3
  // (its last checkpoint 400 ms into tick 3). Attempt 1: on-demand from tick 3, running since 3.9.
  const attempts = [attempt(0, at(0, 1000), { at: at(3, 600), kind: "preempted" }), attempt(1, at(3, 1100))];
  const events = [ev(at(0, 4500), "run_started", 0), ev(at(3, 400), "checkpoint_uploaded", 0), ev(at(3, 4500), "run_started", 1)];
  const marks = progressMarks(events);
  assert.equal(workDoneByTick(m, attempts, marks, 3), at(3) - at(0, 4500), "attempt 0 to the reclaim");
  assert.equal(workDoneByTick(m, attempts, marks, 5), at(3) - at(0, 4500) + (at(5) - at(3, 4500)));
  // A changeover stopped a second into tick 7, its checkpoint after that: counted to tick 7's start.
  const changed = [attempt(0, at(5, 1000), { at: at(7, 1800), kind: "changeover" })];
  const m2 = progressMarks([ev(at(5, 4000), "run_started", 0), ev(at(7, 1500), "checkpoint_uploaded", 0)]);
  assert.equal(workDoneByTick(m, changed, m2, 9), at(7) - at(5, 4000));
  // A failure long after the last checkpoint keeps only what was saved.
  const failed = [attempt(0, at(5, 1000), { at: at(8, 2000), kind: "user_error" })];
  const m3 = progressMarks([ev(at(5, 4000), "run_started", 0), ev(at(6, 2000), "checkpoint_uploaded", 0)]);
  assert.equal(workDoneByTick(m, failed, m3, 9), at(6, 2000) - at(5, 4000));
});

test("the observation is in market time from the job's first tick, measurements to the nearest whole tick", () => {
  const o = tickObservation(m, {
    tick: 7,
    firstTick: 2,
    deadlineAfterMs: 80_000,
    workMs: 50_000,
    workDoneMs: 12_400, // 2.48 ticks → 2
    restartOverheadMs: 3_300, // 0.66 of a tick → 1
    live: { spot: false, startedAt: at(5, 1000) },
  });
  assert.deepEqual(o, {
    nowMs: 5 * 600_000,
    startMs: 0,
    deadlineMs: 16 * 600_000,
    workTotalMs: 10 * 600_000,
    workDoneMs: 2 * 600_000,
    restartOverheadMs: 600_000,
    spotAvailable: true,
    current: "on_demand",
    currentSinceMs: 3 * 600_000,
    stepMs: 600_000,
    reclaimed: false,
  });
});

test("a spot the market no longer shows is being reclaimed: no current instance, no spot to take", () => {
  const base = { firstTick: 0, deadlineAfterMs: 80_000, workMs: 50_000, workDoneMs: 0, restartOverheadMs: 5000 };
  const reclaimed = tickObservation(m, { ...base, tick: 3, live: { spot: true, startedAt: at(1, 1000) } });
  assert.equal(reclaimed.current, "none");
  assert.equal(reclaimed.spotAvailable, false);
  assert.equal(reclaimed.reclaimed, true);
  assert.equal(reclaimed.currentSinceMs, undefined);
  const holding = tickObservation(m, { ...base, tick: 2, live: { spot: true, startedAt: at(1, 1000) } });
  assert.equal(holding.current, "spot");
  assert.equal(holding.spotAvailable, true);
  const none = tickObservation(m, { ...base, tick: 4 });
  assert.equal(none.current, "none");
  assert.equal(none.spotAvailable, false);
});

test("the policy is never told the work is done: the run's exit says so", () => {
  const o = tickObservation(m, {
    tick: 20,
    firstTick: 0,
    deadlineAfterMs: 80_000,
    workMs: 50_000,
    workDoneMs: 51_000,
    restartOverheadMs: 5000,
  });
  assert.equal(o.workDoneMs, 9 * 600_000);
});
