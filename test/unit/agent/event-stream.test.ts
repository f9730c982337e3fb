import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AgentEventStream, type AgentEventStreamOptions, type ChannelChange } from "../../../src/agent/event-stream.js";
import { dataFrame, heartbeatFrame, helloFrame } from "../../../src/agent/follow-frames.js";
import type { AgentEvent } from "../../../src/agent/protocol.js";
import { FakeClock } from "../../../src/base/clock.js";
import { seededRandom } from "../../../src/base/random.js";
import type { StreamEnd, StreamHandle, StreamOptions, Transport } from "../../../src/transport/transport.js";

/** One stream the test plays the instance's side of: it says what follow would, and ends when told. */
class ScriptedStream implements StreamHandle {
  readonly done: Promise<StreamEnd>;
  closedByClient = false;
  private end: (e: StreamEnd) => void = () => {};
  constructor(
    readonly command: string,
    private readonly opts: StreamOptions,
  ) {
    this.done = new Promise((r) => {
      this.end = r;
    });
  }
  say(line: string): void {
    this.opts.onStdout(Buffer.from(line));
  }
  exit(e: StreamEnd): void {
    this.end(e);
  }
  async close(): Promise<StreamEnd> {
    this.closedByClient = true;
    this.end({ exitCode: 0, signal: null });
    return this.done;
  }
  /** The offsets the client asked follow to start from. */
  get from(): { events: number; log: number } {
    const m = /--events-offset (\d+) --log-offset (\d+)/.exec(this.command);
    assert.ok(m, this.command);
    return { events: Number(m[1]), log: Number(m[2]) };
  }
}

class StreamingTransport implements Transport {
  readonly label = "fake:stream";
  readonly home = "/home/x";
  readonly streams: ScriptedStream[] = [];
  stream(command: string, opts: StreamOptions): StreamHandle {
    const s = new ScriptedStream(command, opts);
    this.streams.push(s);
    return s;
  }
  get last(): ScriptedStream {
    const s = this.streams.at(-1);
    assert.ok(s, "no stream was opened");
    return s;
  }
  exec = async () => assert.fail("the stream client never execs");
  readFile = async () => assert.fail("the stream client never reads files");
  writeFile = async () => undefined;
  upload = async () => undefined;
  download = async () => undefined;
  close = async () => undefined;
  stats = () => ({ execs: 0, streams: this.streams.length, openStreams: 0 });
}

const turn = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};
const line = (i: number) => `${JSON.stringify({ at: i, kind: "warning", message: `m${i}` })}\n`;

interface Seen {
  events: { events: AgentEvent[]; offset: number }[];
  logs: { text: string; offset: number }[];
  channel: ChannelChange[];
  errors: string[];
}

function setup(over: Partial<AgentEventStreamOptions> & { autoAck?: boolean } = {}) {
  const t = new StreamingTransport();
  const clock = new FakeClock();
  const seen: Seen = { events: [], logs: [], channel: [], errors: [] };
  let acked = { events: over.eventsOffset ?? 0, log: over.logOffset ?? 0 };
  const autoAck = over.autoAck ?? true;
  const s: AgentEventStream = new AgentEventStream({
    transport: t,
    launcher: "/home/x/.spotrun/bin/spotrun",
    eventsOffset: 0,
    logOffset: 0,
    clock,
    random: seededRandom(3),
    heartbeatTimeoutMs: 8000,
    onEvents: (events, offset) => {
      seen.events.push({ events, offset });
      acked = { ...acked, events: offset };
      if (autoAck) s.ack(acked.events, acked.log);
    },
    onLog: (bytes, offset) => {
      seen.logs.push({ text: bytes.toString(), offset });
      acked = { ...acked, log: offset };
      if (autoAck) s.ack(acked.events, acked.log);
    },
    onChannel: (c) => seen.channel.push(c),
    onProtocolError: (e) => seen.errors.push(e),
    ...over,
  });
  return { t, clock, seen, s };
}

describe("AgentEventStream", () => {
  it("opens follow from the store's offsets and hands over events and log bytes with the offset after them", async () => {
    const { t, seen, s } = setup({ eventsOffset: 100, logOffset: 7 });
    s.start();
    assert.equal(t.streams.length, 1);
    assert.match(
      t.last.command,
      /^exec '\/home\/x\/\.spotrun\/bin\/spotrun' agent follow --events-offset 100 --log-offset 7 --dir '\.spotrun'/,
    );
    t.last.say(helloFrame(100, 7));
    t.last.say(dataFrame("log", 7, Buffer.from("hello\n")) + dataFrame("ev", 100, Buffer.from(line(1) + line(2))));
    await turn();
    assert.deepEqual(seen.logs, [{ text: "hello\n", offset: 13 }]);
    assert.equal(seen.events.length, 1);
    assert.deepEqual(
      seen.events[0]?.events.map((e) => e.at),
      [1, 2],
    );
    assert.equal(seen.events[0]?.offset, 100 + line(1).length + line(2).length);
    assert.deepEqual(seen.channel[0], { kind: "up", eventsOffset: 100, logOffset: 7, opens: 1 });
    await s.close();
    assert.ok(t.last.closedByClient);
  });

  it("a dropped channel is re-opened after a jittered, capped, growing backoff from the acked offsets", async () => {
    const { t, clock, seen, s } = setup({ backoffBaseMs: 500, backoffCapMs: 4000 });
    s.start();
    t.last.say(helloFrame(0, 0) + dataFrame("ev", 0, Buffer.from(line(1))));
    await turn();
    for (let i = 0; i < 6; i++) {
      t.last.exit({ exitCode: null, signal: "KILL" });
      await turn();
      const down = seen.channel.at(-1);
      assert.ok(down?.kind === "down", JSON.stringify(down));
      assert.match(down.reason, /killed \(KILL\)/);
      const full = Math.min(4000, 500 * 2 ** i);
      assert.ok(down.retryInMs >= full / 2 && down.retryInMs <= full, `try ${i}: ${down.retryInMs} ms of ${full}`);
      // Nothing before the wait is over…
      await clock.advance(down.retryInMs - 1);
      assert.equal(t.streams.length, i + 1);
      // …then a new channel from what was acknowledged.
      await clock.advance(1);
      await turn();
      assert.equal(t.streams.length, i + 2);
      assert.deepEqual(t.last.from, { events: line(1).length, log: 0 });
    }
    await s.close();
  });

  it("a channel that stood for a while starts the backoff over", async () => {
    const { t, clock, seen, s } = setup({ backoffBaseMs: 1000, backoffCapMs: 60_000 });
    s.start();
    for (let i = 0; i < 3; i++) {
      t.last.exit({ exitCode: 1, signal: null });
      await turn();
      const d = seen.channel.at(-1);
      await clock.advance(d?.kind === "down" ? d.retryInMs : 0);
      await turn();
    }
    const third = seen.channel.at(-1);
    assert.ok(third?.kind === "down");
    assert.equal(third.failures, 3);
    // This one says hello and stays up longer than the heartbeat timeout, heartbeating.
    t.last.say(helloFrame(0, 0));
    for (let i = 0; i < 5; i++) {
      await clock.advance(2000);
      t.last.say(heartbeatFrame(-1, -1));
    }
    t.last.exit({ exitCode: 1, signal: null });
    await turn();
    const d = seen.channel.at(-1);
    assert.ok(d?.kind === "down");
    assert.equal(d.failures, 1);
    assert.ok(d.retryInMs <= 1000);
    await s.close();
  });

  it("silence past the heartbeat timeout is a dead channel: it is closed and another opened", async () => {
    const { t, clock, seen, s } = setup();
    s.start();
    const first = t.last;
    first.say(helloFrame(0, 0));
    // Heartbeats keep it alive…
    for (let i = 0; i < 6; i++) {
      await clock.advance(2000);
      first.say(heartbeatFrame(0, 0));
      await turn();
    }
    assert.equal(t.streams.length, 1);
    assert.equal(seen.channel.filter((c) => c.kind === "down").length, 0);
    // …their absence does not.
    await clock.advance(7999);
    await turn();
    assert.equal(seen.channel.filter((c) => c.kind === "down").length, 0);
    await clock.advance(1);
    await turn();
    const down = seen.channel.at(-1);
    assert.ok(down?.kind === "down");
    assert.equal(down.reason, "no frame for 8000 ms");
    assert.ok(first.closedByClient);
    await clock.advance(down.retryInMs);
    await turn();
    assert.equal(t.streams.length, 2);
    await s.close();
  });

  it("what was delivered but not acked comes again after a drop; what was acked never does", async () => {
    const { t, clock, seen, s } = setup({ autoAck: false });
    s.start();
    const a = line(1);
    const b = line(2);
    t.last.say(helloFrame(0, 0) + dataFrame("ev", 0, Buffer.from(a)));
    await turn();
    s.ack(a.length, 0);
    t.last.say(dataFrame("ev", a.length, Buffer.from(b)) + dataFrame("log", 0, Buffer.from("L\n")));
    await turn();
    assert.equal(seen.events.length, 2);
    t.last.exit({ exitCode: null, signal: null, error: new Error("lost the SSH connection") });
    await turn();
    const d = seen.channel.at(-1);
    await clock.advance(d?.kind === "down" ? d.retryInMs : 0);
    await turn();
    assert.deepEqual(t.last.from, { events: a.length, log: 0 });
    assert.deepEqual(s.position().acked, { events: a.length, log: 0 });
    await s.close();
  });

  it("a gap or an overlap in the offsets re-opens from the acks; a bad frame is reported and its gap noticed", async () => {
    const { t, clock, seen, s } = setup();
    s.start();
    t.last.say(helloFrame(0, 0) + dataFrame("ev", 0, Buffer.from(line(1))));
    // A frame lost on the way (here: unreadable, so skipped), then the next one.
    t.last.say(`ev ${line(1).length} not*base64\n`);
    t.last.say(dataFrame("ev", line(1).length + line(2).length, Buffer.from(line(3))));
    await turn();
    assert.equal(seen.events.length, 1);
    assert.match(seen.errors[0] ?? "", /bad base64 in ev frame/);
    const d = seen.channel.at(-1);
    assert.ok(d?.kind === "down");
    assert.match(d.reason, /ev frame at byte \d+, expected \d+/);
    await clock.advance(d.retryInMs);
    await turn();
    assert.deepEqual(t.last.from, { events: line(1).length, log: 0 });
    // A follow that answers from somewhere else than asked is not believed either.
    t.last.say(helloFrame(0, 0));
    await turn();
    const d2 = seen.channel.at(-1);
    assert.ok(d2?.kind === "down");
    assert.match(d2.reason, /started at 0\/0, not \d+\/0/);
    await s.close();
  });

  it("deliveries are serial: the next waits for the previous callback, and a failed one re-opens from the acks", async () => {
    const order: string[] = [];
    let release: () => void = () => {};
    let fail = true;
    const { t, clock, seen, s } = setup({
      onEvents: async (events, offset) => {
        order.push(`start ${events[0]?.at}`);
        if (events[0]?.at === 1) await new Promise<void>((r) => (release = r));
        if (events[0]?.at === 2 && fail) {
          fail = false;
          throw new Error("store is locked");
        }
        order.push(`end ${events[0]?.at}`);
        s.ack(offset, 0);
      },
    });
    s.start();
    t.last.say(
      helloFrame(0, 0) + dataFrame("ev", 0, Buffer.from(line(1))) + dataFrame("ev", line(1).length, Buffer.from(line(2))),
    );
    await turn();
    assert.deepEqual(order, ["start 1"]);
    release();
    await turn();
    assert.deepEqual(order, ["start 1", "end 1", "start 2"]);
    assert.match(seen.errors.at(-1) ?? "", /delivery failed: store is locked/);
    const d = seen.channel.at(-1);
    assert.ok(d?.kind === "down");
    assert.match(d.reason, /delivery failed/);
    await clock.advance(d.retryInMs);
    await turn();
    assert.deepEqual(t.last.from, { events: line(1).length, log: 0 });
    t.last.say(helloFrame(line(1).length, 0) + dataFrame("ev", line(1).length, Buffer.from(line(2))));
    await turn();
    assert.deepEqual(order.slice(-2), ["start 2", "end 2"]);
    await s.close();
  });

  it("close() stops it for good: its channel is closed, nothing opens again and no callback runs after", async () => {
    const { t, clock, seen, s } = setup();
    s.start();
    const ch = t.last;
    ch.say(helloFrame(0, 0));
    await s.close();
    assert.ok(ch.closedByClient);
    ch.say(dataFrame("ev", 0, Buffer.from(line(1))));
    await clock.advance(120_000);
    await turn();
    assert.equal(seen.events.length, 0);
    assert.equal(t.streams.length, 1);
    assert.equal(seen.channel.filter((c) => c.kind === "down").length, 0);
    assert.throws(() => s.start(), /after close/);
  });

  it("event lines it cannot read are skipped, the offset still moves past them", async () => {
    const { t, seen, s } = setup();
    s.start();
    const bytes = `${line(1)}not json\n\n${line(2)}`;
    t.last.say(helloFrame(0, 0) + dataFrame("ev", 0, Buffer.from(bytes)));
    await turn();
    assert.deepEqual(
      seen.events[0]?.events.map((e) => e.at),
      [1, 2],
    );
    assert.equal(seen.events[0]?.offset, Buffer.byteLength(bytes));
    await s.close();
  });
});
