import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { ackRunLog, appendRunLog, repairRunLog, unackedRunLog } from "../../../src/core/job-log.js";
import { jobLogPath } from "../../../src/core/paths.js";

const chunk = (s: string) => Buffer.from(s);

function home(): string {
  const h = mkdtempSync(join(tmpdir(), "spotrun-job-log-"));
  mkdirSync(dirname(jobLogPath(h, "j1")), { recursive: true });
  return h;
}

test("a chunk appended by a controller killed before the store recorded it is cut when the attempt's log is taken up again: sent again, it is there once", () => {
  const h = home();
  try {
    // Attempt 0's agent log: "step 115\n" (offset 9) acknowledged; "step 116\n" (offset 18)
    // appended, then the controller is killed before the store records 18.
    appendRunLog(h, "j1", chunk("[spotrun] attempt 1\n"));
    appendRunLog(h, "j1", chunk("step 115\n"));
    ackRunLog(h, "j1", 0, 9);
    appendRunLog(h, "j1", chunk("step 116\n"));
    // The next controller opens the channel from the store's offset, 9: the chunk is cut, then comes again.
    assert.equal(repairRunLog(h, "j1", 0, 9), 9);
    appendRunLog(h, "j1", chunk("step 116\n"));
    ackRunLog(h, "j1", 0, 18);
    assert.equal(readFileSync(jobLogPath(h, "j1"), "utf8"), "[spotrun] attempt 1\nstep 115\nstep 116\n");
    // Taken up again with nothing unrecorded (a channel re-opened): nothing is cut.
    assert.equal(repairRunLog(h, "j1", 0, 18), 0);
  } finally {
    rmSync(h, { recursive: true, force: true });
  }
});

test("killed after the store recorded the chunk but before its length was noted: the chunk is the store's, nothing is cut", () => {
  const h = home();
  try {
    appendRunLog(h, "j1", chunk("step 1\n"));
    ackRunLog(h, "j1", 0, 7);
    appendRunLog(h, "j1", chunk("step 2\n"));
    // The store holds 14 (the note still says 7): the channel re-opens from 14 and sends nothing again.
    assert.equal(repairRunLog(h, "j1", 0, 14), 0);
    assert.equal(readFileSync(jobLogPath(h, "j1"), "utf8"), "step 1\nstep 2\n");
  } finally {
    rmSync(h, { recursive: true, force: true });
  }
});

test("what another attempt wrote after the note (the next attempt's header and log) is never cut; no note, no cut", () => {
  const h = home();
  try {
    assert.equal(repairRunLog(h, "j1", 0, 0), 0);
    appendRunLog(h, "j1", chunk("step 1\n"));
    ackRunLog(h, "j1", 0, 7);
    appendRunLog(h, "j1", chunk("[spotrun] attempt 2\nstep 2\n"));
    assert.equal(repairRunLog(h, "j1", 1, 0), 0);
    assert.equal(readFileSync(jobLogPath(h, "j1"), "utf8"), "step 1\n[spotrun] attempt 2\nstep 2\n");
  } finally {
    rmSync(h, { recursive: true, force: true });
  }
});

test("bytes the channel brought but the store never recorded are counted, not cut, for a source that will not send them again", () => {
  const h = home();
  try {
    appendRunLog(h, "j1", chunk("step 128\n"));
    ackRunLog(h, "j1", 0, 9);
    // "step 129" came over the channel; the store's write failed (busy) before it was recorded,
    // and then the instance was reclaimed: the copy with the checkpoints ends at step 128.
    appendRunLog(h, "j1", chunk("step 129\n"));
    assert.equal(unackedRunLog(h, "j1", 0, 9), 9);
    assert.equal(unackedRunLog(h, "j1", 1, 9), 0, "another attempt's acknowledgement says nothing of this one");
    assert.equal(unackedRunLog(h, "j1", 0, 0), 0, "nor one for another offset");
    assert.equal(readFileSync(jobLogPath(h, "j1"), "utf8"), "step 128\nstep 129\n", "nothing cut");
  } finally {
    rmSync(h, { recursive: true, force: true });
  }
});
