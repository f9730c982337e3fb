import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { SpotrunError } from "../../../src/base/errors.js";
import { loadTrace, parseTrace } from "../../../src/spec/availability-trace.js";

test("a trace file loads with its tick and availability", async () => {
  const dir = await mkdtemp(join(tmpdir(), "spotrun-trace-"));
  try {
    const file = join(dir, "us-west-2a_v100_1.json");
    await writeFile(file, JSON.stringify({ metadata: { gap_seconds: 600 }, data: [1, 0, 2, 0] }));
    const t = await loadTrace(file);
    assert.deepEqual(t, { name: "us-west-2a_v100_1", tickMs: 600_000, available: [true, false, true, false] });
    await writeFile(file, "{not json");
    await assert.rejects(
      loadTrace(file),
      (e) => e instanceof SpotrunError && e.kind === "usage" && /not valid JSON/.test(e.message),
    );
    await assert.rejects(loadTrace(join(dir, "missing.json")), (e) => e instanceof SpotrunError && e.kind === "not_found");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("malformed traces name the file and the field", () => {
  const cases: [unknown, RegExp][] = [
    [[], /t\.json: expected a JSON object/],
    [{ data: [1] }, /metadata\.gap_seconds: expected a positive number, got undefined/],
    [{ metadata: { gap_seconds: 0 }, data: [1] }, /gap_seconds.*got 0/],
    [{ metadata: { gap_seconds: 60 }, data: [] }, /data: expected a non-empty array/],
    [{ metadata: { gap_seconds: 60 }, data: [1, -1] }, /data\[1\]: expected a count ≥ 0, got -1/],
    [{ metadata: { gap_seconds: 60 }, data: [1, "x"] }, /data\[1\]/],
  ];
  for (const [doc, re] of cases)
    assert.throws(
      () => parseTrace(doc, "t.json"),
      (e) => e instanceof SpotrunError && e.exitCode === 2 && re.test(e.message),
    );
});
