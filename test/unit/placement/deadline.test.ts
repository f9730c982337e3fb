import assert from "node:assert/strict";
import { test } from "node:test";
import { SpotrunError } from "../../../src/base/errors.js";
import { resolveDeadline } from "../../../src/placement/deadline.js";

const submitted = Date.UTC(2026, 10, 23, 12, 0, 0);

test("a duration counts from submission, a time is taken as is", () => {
  assert.equal(resolveDeadline("60h", submitted), submitted + 60 * 3_600_000);
  assert.equal(resolveDeadline("1d12h", submitted), submitted + 36 * 3_600_000);
  assert.equal(resolveDeadline("2026-11-25T09:30:00Z", submitted), Date.UTC(2026, 10, 25, 9, 30, 0));
  assert.equal(resolveDeadline("2026-11-25T11:30:00+02:00", submitted), Date.UTC(2026, 10, 25, 9, 30, 0));
});

test("anything else is a usage error naming the field", () => {
  for (const bad of ["tomorrow", "2026-11-25", "2026-13-45T99:00:00Z", ""])
    assert.throws(
      () => resolveDeadline(bad, submitted),
      (e) => e instanceof SpotrunError && e.kind === "usage" && e.message.startsWith("recovery.deadline:"),
    );
});
