import assert from "node:assert/strict";
import { test } from "node:test";
import { JobId } from "../../../src/base/ids.js";
import { measureProgress } from "../../../src/core/progress.js";
import type { AttemptState } from "../../../src/state/job-states.js";
import type { AttemptRow, EventRow } from "../../../src/state/state-store.js";

const attempt = (
  idx: number,
  started: number,
  state: AttemptState,
  end: string | null = null,
  ended: number | null = null,
): AttemptRow => ({
  job_id: JobId("j"),
  idx,
  state,
  spot: true,
  instance_type: "t",
  started_at: started,
  ended_at: ended,
  end_kind: end,
  end_detail: null,
  events_offset: 0,
  log_offset: 0,
  agent_started: true,
  notice_at: null,
  last_heartbeat: null,
  stop_reason: null,
});
let seq = 0;
const ev = (at: number, kind: string, data: Record<string, unknown>): EventRow => ({
  seq: ++seq,
  job_id: JobId("j"),
  at,
  kind,
  data: JSON.stringify(data),
});

test("progress kept by checkpoints, plus the running attempt; overhead from launch to run", () => {
  const attempts = [attempt(0, 0, "ENDED", "preempted", 100), attempt(1, 100, "RUNNING")];
  const events = [
    ev(10, "run_started", { attempt: 0 }),
    ev(60, "checkpoint_uploaded", { attempt: 0 }),
    ev(130, "run_started", { attempt: 1 }),
  ];
  const m = measureProgress(attempts, events, 200, 999);
  assert.equal(m.workDoneMs, 50 + 70);
  assert.equal(m.restartOverheadMs, 20);
  assert.equal(m.samples, 2);
  assert.equal(measureProgress([], [], 0, 999).restartOverheadMs, 999, "assumed until measured");
});

test("a trainer's own progress fraction wins over the wall-clock estimate", () => {
  const attempts = [attempt(0, 0, "ENDED", "preempted", 100), attempt(1, 100, "RUNNING")];
  const events = [
    ev(10, "run_started", { attempt: 0 }),
    ev(60, "checkpoint_uploaded", { attempt: 0, progress: 0.25 }),
    ev(130, "run_started", { attempt: 1 }),
    ev(150, "checkpoint_uploaded", { attempt: 1, progress: 0.3 }),
  ];
  assert.equal(measureProgress(attempts, events, 200, 0, 1000).workDoneMs, 300 + 50);
});
