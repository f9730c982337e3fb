import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { readLog } from "../../../src/api/job-logs.js";

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "spotrun-logs-"));
});
after(async () => rm(dir, { recursive: true, force: true }));

test("reads from an offset in whole lines, and a poller that follows next_offset sees every byte once", async () => {
  const path = join(dir, "a.log");
  const text = Array.from({ length: 50 }, (_, i) => `line ${i} ✓`).join("\n");
  await writeFile(path, `${text}\npartial`);
  let seen = "";
  let since = 0;
  for (let reads = 0; reads < 100; reads++) {
    const r = readLog(path, { since, maxBytes: 37 });
    assert.ok(r.text === "" || r.text.endsWith("\n"), "a running log is read in whole lines");
    if (r.next_offset === since) break;
    seen += r.text;
    since = r.next_offset;
  }
  assert.equal(seen, `${text}\n`, "the unfinished last line waits for its newline");
  const last = readLog(path, { since, complete: true });
  assert.equal(last.text, "partial", "once the job has ended, the last line comes too");
  assert.equal(last.next_offset, last.size_bytes);
});

test("tail: the last N lines and the offset they start at", async () => {
  const path = join(dir, "b.log");
  await writeFile(path, "a\nb\nc\nd\n");
  assert.deepEqual(readLog(path, { tail: 2 }), { text: "c\nd\n", offset: 4, next_offset: 8, size_bytes: 8, truncated: false });
  assert.equal(readLog(path, { tail: 10 }).text, "a\nb\nc\nd\n");
  assert.equal(readLog(path, { tail: 0 }).text, "");
  // A bounded tail drops the line its window starts inside.
  assert.equal(readLog(path, { tail: 10, maxBytes: 5 }).text, "c\nd\n");
});

test("a log not written yet reads as empty at offset 0", () => {
  assert.deepEqual(readLog(join(dir, "none.log"), { since: 10 }), {
    text: "",
    offset: 0,
    next_offset: 0,
    size_bytes: 0,
    truncated: false,
  });
});
