import assert from "node:assert/strict";
import { test } from "node:test";
import { jobMatches } from "../../../src/api/select-jobs.js";
import type { JobRow } from "../../../src/state/state-store.js";

const H = 3_600_000;
const now = Date.UTC(2026, 5, 1, 12);
const job = (p: Partial<JobRow>): JobRow =>
  ({
    id: "j-1",
    name: "train",
    state: "RUNNING",
    created_at: now - 2 * H,
    updated_at: now,
    ended_at: null,
    array_id: null,
    ...p,
  }) as JobRow;

test("by default: active jobs, and jobs that finished in the last 24 h", () => {
  assert.ok(jobMatches(job({ created_at: now - 100 * H }), {}, now), "an active job however old");
  assert.ok(jobMatches(job({ state: "SUCCEEDED", ended_at: now - 23 * H }), {}, now));
  assert.ok(!jobMatches(job({ state: "FAILED", ended_at: now - 25 * H }), {}, now));
  assert.ok(jobMatches(job({ state: "FAILED", ended_at: now - 25 * H }), { all: true }, now));
  assert.ok(!jobMatches(job({ state: "SUCCEEDED", ended_at: now - 2 * H }), { sinceMs: now - H }, now));
  assert.ok(jobMatches(job({ state: "SUCCEEDED", ended_at: now - 2 * H }), { sinceMs: now - 3 * H }, now));
});

test("filters by state, name and array", () => {
  assert.ok(jobMatches(job({}), { states: ["RUNNING", "RECOVERING"] }, now));
  assert.ok(!jobMatches(job({}), { states: ["FAILED"] }, now));
  assert.ok(jobMatches(job({}), { name: "rai" }, now));
  assert.ok(!jobMatches(job({}), { name: "eval" }, now));
  assert.ok(!jobMatches(job({}), { arrayId: "arr-1" }, now));
  assert.ok(jobMatches(job({ array_id: "arr-1" }), { arrayId: "arr-1" }, now));
});
