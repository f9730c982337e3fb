import assert from "node:assert/strict";
import { test } from "node:test";
import { IdSource } from "../../../src/base/ids.js";

test("10^7 job ids made in the same millisecond are all distinct, and sort by time first", () => {
  const ids = new IdSource();
  const now = Date.UTC(2026, 0, 1);
  const n = 10_000_000;
  const suffixes = new Float64Array(n);
  const prefix = `j-${now.toString(36)}`;
  for (let i = 0; i < n; i++) {
    const id = ids.jobId(now);
    if (i % 1_000_000 === 0) assert.match(id, new RegExp(`^${prefix}[0-9a-f]{12}$`));
    suffixes[i] = Number.parseInt(id.slice(-12, -6), 16) * 2 ** 24 + Number.parseInt(id.slice(-6), 16);
  }
  suffixes.sort();
  let dupes = 0;
  for (let i = 1; i < n; i++) if (suffixes[i] === suffixes[i - 1]) dupes++;
  assert.equal(dupes, 0);
  assert.ok(ids.jobId(now + 1) > `${prefix}ffffffffffff`, "a later millisecond sorts after");
});

test("the counter wraps within 48 bits instead of growing the id", () => {
  const ids = new IdSource(() => Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
  assert.equal(ids.jobId(0), "j-0ffffffffffff");
  assert.equal(ids.jobId(0), "j-0000000000000");
});
