import assert from "node:assert/strict";
import { test } from "node:test";
import { JobId } from "../../../src/base/ids.js";
import { type Spare, SpareBook } from "../../../src/core/reconcilers/replace-spares.js";
import type { Provider } from "../../../src/providers/provider.js";

const spare = (jobId: string, idx: number): Spare => ({
  jobId: JobId(jobId),
  idx,
  phase: "launching",
  spot: true,
  instanceType: "t",
  instances: [],
  stopAsked: false,
  lastRead: 0,
  provider: {} as Provider,
  seq: 0,
});

test("a replacement is launched once per attempt: settled stays after it is given up, until its job is forgotten", () => {
  const book = new SpareBook();
  const s = spare("j1", 2);
  book.settle("j1", 2);
  book.add(s);
  assert.equal(book.get("j1", 2), s);
  assert.equal(book.holds(s), true);
  assert.equal(book.known("j1", 1), false);
  book.remove("j1", 2);
  assert.equal(book.get("j1", 2), undefined);
  assert.equal(book.holds(s), false);
  assert.equal(book.known("j1", 2), true, "given up for good: not launched again");
  book.unsettle("j1", 2);
  assert.equal(book.known("j1", 2), false);
});

test("forgetting a job drops its spares and what it settled, and no other job's (j1 is not j10)", () => {
  const book = new SpareBook();
  const a = spare("j1", 1);
  const b = spare("j10", 1);
  for (const s of [a, b]) {
    book.settle(s.jobId, s.idx);
    book.add(s);
  }
  book.settle("j1", 3);
  book.forgetJob("j1");
  assert.equal(book.holds(a), false, "a launch in flight for a forgotten job finds its spare gone");
  assert.equal(book.known("j1", 1), false);
  assert.equal(book.known("j1", 3), false);
  assert.equal(book.holds(b), true);
  assert.equal(book.known("j10", 1), true);
  const again = spare("j1", 1);
  book.add(again);
  assert.equal(book.holds(a), false, "a newer spare for the same attempt is not the old one");
  assert.equal(book.holds(again), true);
});
