import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type AgentEvent, parseEventLines } from "../../../src/agent/protocol.js";

const line = (e: unknown) => `${JSON.stringify(e)}\n`;
const started: AgentEvent = { at: 1, kind: "agent_started", pid: 42 };
const exited: AgentEvent = { at: 2, kind: "run_exited", exit_code: 0, signal: null };

describe("parseEventLines", () => {
  it("returns complete lines as events and counts their bytes", () => {
    const text = line(started) + line(exited);
    const r = parseEventLines(text);
    assert.deepEqual(r.events, [started, exited]);
    assert.equal(r.consumed, Buffer.byteLength(text));
    assert.deepEqual(r.unknown, []);
    assert.deepEqual(r.malformed, []);
  });

  it("leaves a torn last line for the next read, then reads it whole", () => {
    const whole = line(started) + line(exited);
    const cut = line(started).length + 10;
    const first = parseEventLines(whole.slice(0, cut));
    assert.deepEqual(first.events, [started]);
    assert.equal(first.consumed, line(started).length);
    assert.deepEqual(first.malformed, [], "a torn line is not malformed: it is not finished");
    const rest = parseEventLines(whole.slice(first.consumed));
    assert.deepEqual(rest.events, [exited]);
    assert.equal(first.consumed + rest.consumed, Buffer.byteLength(whole));
  });

  it("counts bytes, not characters, and cuts a multi-byte character split across reads", () => {
    const warn: AgentEvent = { at: 3, kind: "warning", message: "disk 95 % — ça déborde ✓" };
    const bytes = Buffer.from(line(started) + line(warn));
    const splitAt = bytes.indexOf("✓") + 1; // inside the three bytes of ✓
    const first = parseEventLines(bytes.subarray(0, splitAt));
    assert.deepEqual(first.events, [started]);
    const rest = parseEventLines(bytes.subarray(first.consumed));
    assert.deepEqual(rest.events, [warn]);
    assert.equal(first.consumed + rest.consumed, bytes.length);
  });

  it("moves past a line of invalid UTF-8 by its own length in bytes", () => {
    const bad = Buffer.from([0xff, 0xfe, 0x7b, 0x0a]); // \xff\xfe{\n
    const bytes = Buffer.concat([bad, Buffer.from(line(started))]);
    const r = parseEventLines(bytes);
    assert.equal(r.consumed, bytes.length);
    assert.deepEqual(r.events, [started]);
    assert.equal(r.malformed.length, 1);
    assert.equal(r.malformed[0]!.offset, 0);
  });

  it("skips an unknown kind on purpose and counts it, without calling it malformed", () => {
    const text = line({ at: 1, kind: "gpu_hot", celsius: 91 }) + line(started) + line({ at: 2, kind: "gpu_hot" });
    const r = parseEventLines(text);
    assert.deepEqual(r.events, [started]);
    assert.deepEqual(r.unknown, ["gpu_hot", "gpu_hot"]);
    assert.deepEqual(r.malformed, []);
    assert.equal(r.consumed, Buffer.byteLength(text));
  });

  it("skips a known kind with wrong field types and says which field, at which byte", () => {
    const bad = line({ at: 5, kind: "run_exited", exit_code: "0", signal: null });
    const text = line(started) + bad + line(exited);
    const r = parseEventLines(text);
    assert.deepEqual(r.events, [started, exited]);
    assert.equal(r.malformed.length, 1);
    assert.equal(r.malformed[0]!.offset, line(started).length);
    assert.match(r.malformed[0]!.problem, /^run_exited: exit_code: /);
    assert.equal(r.consumed, Buffer.byteLength(text));
  });

  it("refuses each shape that is not an event: missing field, bad enum, no at, no kind, not an object, not JSON", () => {
    const lines = [
      { at: 1, kind: "agent_started" },
      { at: 1, kind: "agent_exit", outcome: "exploded" },
      { kind: "agent_started", pid: 1 },
      { at: 1, pid: 1 },
      [1, 2],
      "just a string",
      { at: 1, kind: 7 },
    ].map(line);
    const text = `${lines.join("")}{"at": 1, "kind": "agent_st\n`;
    const r = parseEventLines(text);
    assert.deepEqual(r.events, []);
    assert.deepEqual(r.unknown, []);
    assert.equal(r.malformed.length, 8);
    assert.match(r.malformed[0]!.problem, /agent_started: pid/);
    assert.match(r.malformed[1]!.problem, /agent_exit: outcome/);
    assert.match(r.malformed[2]!.problem, /agent_started: at/);
    assert.match(r.malformed[7]!.problem, /^not JSON/);
    assert.equal(r.consumed, Buffer.byteLength(text));
  });

  it("does not quote the line it could not read (it may carry what a log must not)", () => {
    const r = parseEventLines('{"at":1,"kind":"warning","message":"token=hunter2"\n');
    assert.equal(r.malformed.length, 1);
    assert.doesNotMatch(r.malformed[0]!.problem, /hunter2/);
  });

  it("keeps optional fields and drops fields it does not know", () => {
    const r = parseEventLines(
      line({
        at: 1,
        kind: "checkpoint_uploaded",
        generation: "g1",
        bytes: 10,
        files: 1,
        ms: 5,
        reason: "timer",
        progress: 0.5,
        extra: 1,
      }),
    );
    assert.deepEqual(r.events, [
      { at: 1, kind: "checkpoint_uploaded", generation: "g1", bytes: 10, files: 1, ms: 5, reason: "timer", progress: 0.5 },
    ]);
  });

  it("ignores blank lines and reads nothing from a chunk without a newline", () => {
    assert.deepEqual(parseEventLines(`\n  \n${line(started)}`).events, [started]);
    const none = parseEventLines(JSON.stringify(started));
    assert.deepEqual(none, { events: [], consumed: 0, unknown: [], malformed: [] });
  });
});
