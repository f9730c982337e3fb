import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  dataFrame,
  FrameDecoder,
  heartbeatFrame,
  helloFrame,
  MAX_FRAME_LINE,
  parseFrame,
} from "../../../src/agent/follow-frames.js";
import { seededRandom } from "../../../src/base/random.js";

describe("follow frames", () => {
  it("round-trip every kind, bytes exact (binary and UTF-8 included)", () => {
    const bin = Buffer.from([0, 1, 2, 0xff, 0x0a, 0xe2, 0x82]);
    const wire =
      helloFrame(12, 34) + dataFrame("log", 34, bin) + dataFrame("ev", 12, Buffer.from('{"k":"é"}\n')) + heartbeatFrame(-1, 41);
    const frames = new FrameDecoder().push(Buffer.from(wire));
    assert.deepEqual(frames, [
      { kind: "hello", version: 1, eventsOffset: 12, logOffset: 34 },
      { kind: "log", offset: 34, bytes: bin },
      { kind: "ev", offset: 12, bytes: Buffer.from('{"k":"é"}\n') },
      { kind: "hb", eventsSize: -1, logSize: 41 },
    ]);
  });

  it("a frame torn across chunks at every possible point comes out once, whole", () => {
    const rand = seededRandom(7);
    const payloads = Array.from({ length: 30 }, (_, i) =>
      Buffer.from(Array.from({ length: 1 + i * 13 }, () => Math.floor(rand() * 256))),
    );
    const wire = Buffer.from(payloads.map((p, i) => dataFrame(i % 2 ? "ev" : "log", i * 1000, p)).join(""));
    for (const size of [1, 2, 3, 7, 64, 1000]) {
      const dec = new FrameDecoder();
      const out = [];
      for (let i = 0; i < wire.length; i += size) out.push(...dec.push(wire.subarray(i, i + size)));
      assert.equal(out.length, payloads.length, `chunks of ${size}`);
      out.forEach((f, i) => {
        assert.ok(f.kind === "ev" || f.kind === "log");
        assert.equal(f.offset, i * 1000);
        assert.deepEqual(f.bytes, payloads[i]);
      });
      assert.equal(dec.buffered, 0);
    }
    // A chunk ending mid-frame holds its bytes back until the rest arrives.
    const dec = new FrameDecoder();
    assert.deepEqual(dec.push(Buffer.from("hb 1 ")), []);
    assert.equal(dec.buffered, 5);
    assert.deepEqual(dec.push(Buffer.from("2\nhb")), [{ kind: "hb", eventsSize: 1, logSize: 2 }]);
  });

  it("bad base64 and malformed lines are skipped and reported, never thrown, and the next frame still reads", () => {
    const dec = new FrameDecoder();
    const frames = dec.push(
      Buffer.from(
        [
          "ev 0 eyJh*dCI6MX0K", // a character base64 does not have (Buffer.from would silently drop it)
          "log 5 abc", // length not a multiple of 4
          "ev -3 eyJhdCI6MX0K",
          "ev 12",
          "hb x 2",
          "hello 2 0",
          "\u0000\u0001garbage",
          "future 1 2 3",
          "",
          "hb 3 4",
        ].join("\n") + "\n",
      ),
    );
    assert.deepEqual(
      frames.map((f) => (f.kind === "bad" ? `bad: ${f.reason}` : f.kind)),
      [
        "bad: bad base64 in ev frame",
        "bad: bad base64 in log frame",
        "bad: malformed ev frame",
        "bad: malformed ev frame",
        "bad: malformed heartbeat",
        "bad: malformed hello",
        "bad: not a frame",
        "unknown",
        "hb",
      ],
    );
    assert.deepEqual(frames.at(-2), { kind: "unknown", tag: "future" });
    // A report says how much was lost, never what: the bytes may be the user's log.
    const bad = frames[0];
    assert.ok(bad?.kind === "bad");
    assert.deepEqual(Object.keys(bad).sort(), ["bytes", "kind", "reason"]);
    assert.equal(parseFrame("ev 0 ").kind, "bad");
  });

  it("a line without end is dropped past the limit instead of growing without bound", () => {
    const dec = new FrameDecoder();
    const chunk = Buffer.alloc(1024 * 1024, 0x41);
    const reports = [];
    for (let i = 0; i < 5; i++) reports.push(...dec.push(chunk));
    assert.equal(reports.length, 1);
    assert.ok(reports[0]?.kind === "bad" && reports[0].bytes > MAX_FRAME_LINE);
    assert.equal(dec.buffered, 0);
    // The rest of that line is thrown away with it; the frame after its newline reads.
    assert.deepEqual(dec.push(Buffer.from("AAAA\nhb 1 1\n")), [{ kind: "hb", eventsSize: 1, logSize: 1 }]);
  });
});
