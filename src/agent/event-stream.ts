import { type Clock, systemClock } from "../base/clock.js";
import { errorMessage } from "../base/errors.js";
import type { Random } from "../base/random.js";
import { singleQuote as shq } from "../base/shell-quote.js";
import type { StreamEnd, StreamHandle, Transport } from "../transport/transport.js";
import { FOLLOW_PROTOCOL_VERSION, type FollowFrame, FrameDecoder } from "./follow-frames.js";
import { AGENT_DIR, type AgentEvent, parseEventLines } from "./protocol.js";

/**
 * The controller's end of `spotrun agent follow`: one long-lived channel per instance that brings
 * the agent's events and run log as they are written. A channel that ends, stalls (no frame
 * within `heartbeatTimeoutMs`) or says something that does not add up (a gap in the offsets) is
 * closed and opened again after a capped, jittered backoff, from the offsets the caller last
 * acknowledged — so what the store holds is where the next channel starts.
 *
 * Deliveries are serial: the next callback waits for the previous one's promise. Data delivered
 * but not yet acknowledged when a channel drops is delivered again by the next one; a caller that
 * calls `ack` before its callback resolves never sees anything twice.
 */
export interface AgentEventStreamOptions {
  transport: Transport;
  /** The shipped spotrun on the instance: bootstrap's `instancePaths(home).launcher`. */
  launcher: string;
  /** The agent's state directory, relative to the transport's home. */
  dir?: string;
  /** Where to start: the offsets acknowledged in the store. */
  eventsOffset: number;
  logOffset: number;
  /** Whole lines of events.jsonl (unreadable lines skipped, so `events` may be empty) and the offset after them. */
  onEvents: (events: AgentEvent[], eventsOffset: number) => void | Promise<void>;
  /** Bytes of run.log and the offset after them. Within one poll of the agent's files, log bytes come before events. */
  onLog: (bytes: Buffer, logOffset: number) => void | Promise<void>;
  /** The agent's files as the instance sees them, every `heartbeatMs` even when nothing is written. */
  onHeartbeat?: (hb: AgentHeartbeat) => void;
  /** A channel came up, or went down and when the next one will be tried. */
  onChannel?: (change: ChannelChange) => void;
  /** A frame that could not be read and was skipped. */
  onProtocolError?: (reason: string) => void;
  clock?: Clock;
  random?: Random;
  /** Asked of `agent follow`. */
  heartbeatMs?: number;
  /** No frame for this long and the channel is taken for dead. */
  heartbeatTimeoutMs?: number;
  backoffBaseMs?: number;
  backoffCapMs?: number;
}

export interface AgentHeartbeat {
  /** Sizes of events.jsonl and run.log on the instance (-1: not there yet). */
  eventsSize: number;
  logSize: number;
  /** The agent's own heartbeat (ms, the instance's clock), when it has written one. */
  agentBeat?: number;
  /** When it arrived, on the controller's clock. */
  at: number;
}

export type ChannelChange =
  | { kind: "up"; eventsOffset: number; logOffset: number; opens: number }
  | { kind: "down"; reason: string; failures: number; retryInMs: number };

export const STREAM_HEARTBEAT_MS = 2000;
export const STREAM_HEARTBEAT_TIMEOUT_MS = 8000;
export const STREAM_BACKOFF_BASE_MS = 500;
export const STREAM_BACKOFF_CAP_MS = 30_000;

/** Capped exponential backoff with jitter: a delay in [½, 1] × min(cap, base·2^n). */
export const streamBackoffMs = (failures: number, rand: Random, baseMs: number, capMs: number): number =>
  Math.round(Math.min(capMs, baseMs * 2 ** failures) * (0.5 + rand() / 2));

interface Offsets {
  events: number;
  log: number;
}

export class AgentEventStream {
  private readonly clock: Clock;
  private readonly rand: Random;
  private readonly hbTimeoutMs: number;
  private acked: Offsets;
  /** The next byte each file's frames must start at, on the live channel. */
  private cursor: Offsets;
  /** The live channel's number; frames and deliveries of an older one are dropped. */
  private live = 0;
  private gen = 0;
  private handle: StreamHandle | undefined;
  /** Ends the live channel with a reason (a delivery the caller refused). */
  private endLive: (reason: string) => void = () => {};
  private deliveries: Promise<void> = Promise.resolve();
  private loop: Promise<void> | undefined;
  private closed = false;
  private wake: () => void = () => {};
  private readonly closedSignal: Promise<void>;
  private readonly abort = new AbortController();
  private channelsOpened = 0;

  constructor(private readonly o: AgentEventStreamOptions) {
    this.clock = o.clock ?? systemClock;
    this.rand = o.random ?? Math.random;
    this.hbTimeoutMs = o.heartbeatTimeoutMs ?? STREAM_HEARTBEAT_TIMEOUT_MS;
    this.acked = { events: o.eventsOffset, log: o.logOffset };
    this.cursor = { ...this.acked };
    this.closedSignal = new Promise((r) => {
      this.wake = r;
    });
  }

  /** Open the first channel; from here on the stream keeps one open until `close()`. */
  start(): void {
    if (this.closed) throw new Error("bug: AgentEventStream started after close()");
    this.loop ??= this.run();
  }

  /** The caller has made everything up to these offsets durable: a re-opened channel starts there. */
  ack(eventsOffset: number, logOffset: number): void {
    this.acked = { events: Math.max(this.acked.events, eventsOffset), log: Math.max(this.acked.log, logOffset) };
  }

  /** Where a channel opened now would start, and how many channels were opened so far. */
  position(): { acked: Offsets; delivered: Offsets; opens: number } {
    return { acked: { ...this.acked }, delivered: { ...this.cursor }, opens: this.channelsOpened };
  }

  /** Stop: the channel is closed (its `agent follow` leaves with it) and no callback runs after this resolves. */
  async close(): Promise<void> {
    this.closed = true;
    this.live = 0;
    this.wake();
    this.abort.abort();
    await Promise.all([this.handle?.close(), this.loop, this.deliveries]);
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.closed) {
      const started = this.clock.now();
      const { reason, hello } = await this.channel();
      if (this.closed) break;
      // Deliveries under way finish first, so the acks they make count for where the next channel starts.
      await this.deliveries;
      if (this.closed) break;
      // A channel that stood for a while was healthy: its end starts the backoff over.
      if (hello && this.clock.now() - started >= this.hbTimeoutMs) failures = 0;
      const wait = streamBackoffMs(
        failures,
        this.rand,
        this.o.backoffBaseMs ?? STREAM_BACKOFF_BASE_MS,
        this.o.backoffCapMs ?? STREAM_BACKOFF_CAP_MS,
      );
      failures++;
      this.o.onChannel?.({ kind: "down", reason, failures, retryInMs: wait });
      await Promise.race([this.clock.sleep(wait, this.abort.signal).catch(() => undefined), this.closedSignal]);
    }
  }

  /** One channel, from open to the reason it is over. */
  private channel(): Promise<{ reason: string; hello: boolean }> {
    const gen = ++this.gen;
    this.live = gen;
    this.cursor = { ...this.acked };
    const from = { ...this.cursor };
    const decoder = new FrameDecoder();
    const watch = new AbortController();
    let hello = false;
    let lastFrameAt = this.clock.now();
    let stderr = "";
    let end: (reason: string) => void = () => {};
    const ended = new Promise<string>((r) => {
      end = r;
    });
    this.endLive = end;

    const dir = this.o.dir ?? AGENT_DIR;
    const command = `exec ${shq(this.o.launcher)} agent follow --events-offset ${from.events} --log-offset ${from.log} --dir ${shq(dir)} --heartbeat-ms ${this.o.heartbeatMs ?? STREAM_HEARTBEAT_MS}`;
    this.channelsOpened++;
    const handle = this.o.transport.stream(command, {
      onStdout: (chunk) => {
        if (this.live !== gen) return;
        lastFrameAt = this.clock.now();
        for (const f of decoder.push(chunk)) {
          const wrong = this.accept(f, gen, from, () => {
            hello = true;
          });
          if (wrong) return end(wrong);
        }
      },
      onStderr: (chunk) => {
        stderr = (stderr + chunk.toString("utf8")).slice(-500);
      },
    });
    this.handle = handle;
    handle.done.then((e) => end(describeEnd(e, stderr)));

    // The watchdog: a live follow speaks every heartbeatMs, so silence means the channel is gone.
    void (async () => {
      for (;;) {
        let due = lastFrameAt + this.hbTimeoutMs - this.clock.now();
        if (due <= 0) {
          // A controller busy for longer than the timeout has its timers fire before the reads
          // that waited meanwhile: let those in before calling the channel dead.
          await new Promise((r) => setImmediate(r));
          if (this.live !== gen) return;
          due = lastFrameAt + this.hbTimeoutMs - this.clock.now();
          if (due <= 0) return end(`no frame for ${this.hbTimeoutMs} ms`);
        }
        try {
          await this.clock.sleep(due, watch.signal);
        } catch {
          return;
        }
        if (this.live !== gen) return;
      }
    })();

    return ended.then((reason) => {
      watch.abort();
      if (this.live === gen) this.live = 0;
      // Its follow sees EOF and leaves; nothing waits for that.
      void handle.close();
      return { reason, hello };
    });
  }

  /** One frame of the live channel: checked against the offsets, queued for delivery. A string is why the channel is wrong. */
  private accept(f: FollowFrame, gen: number, from: Offsets, onHello: () => void): string | undefined {
    switch (f.kind) {
      case "hello":
        if (f.version !== FOLLOW_PROTOCOL_VERSION)
          return `agent follow speaks version ${f.version}, not ${FOLLOW_PROTOCOL_VERSION}`;
        if (f.eventsOffset !== from.events || f.logOffset !== from.log)
          return `agent follow started at ${f.eventsOffset}/${f.logOffset}, not ${from.events}/${from.log}`;
        onHello();
        this.o.onChannel?.({ kind: "up", eventsOffset: from.events, logOffset: from.log, opens: this.channelsOpened });
        return undefined;
      case "hb":
        this.o.onHeartbeat?.({
          eventsSize: f.eventsSize,
          logSize: f.logSize,
          ...(f.agentBeat !== undefined ? { agentBeat: f.agentBeat } : {}),
          at: this.clock.now(),
        });
        return undefined;
      case "log":
      case "ev": {
        const file = f.kind === "ev" ? "events" : "log";
        const at = this.cursor[file];
        // A frame we already have (it cannot happen on one channel, but costs nothing to allow).
        if (f.offset + f.bytes.length <= at && f.offset < at) return undefined;
        if (f.offset !== at) return `${f.kind} frame at byte ${f.offset}, expected ${at}`;
        const next = at + f.bytes.length;
        this.cursor[file] = next;
        const bytes = f.bytes;
        this.deliver(gen, () => (f.kind === "ev" ? this.onEventBytes(bytes, at, next) : this.o.onLog(bytes, next)));
        return undefined;
      }
      case "unknown":
        return undefined;
      case "bad":
        // The data it carried leaves a gap the next frame shows, which re-opens from the acked offsets.
        this.o.onProtocolError?.(`${f.reason} (${f.bytes} bytes skipped)`);
        return undefined;
    }
  }

  /** A line that is not an event is reported and skipped (the offset moves past it): read once, never retried. */
  private onEventBytes(bytes: Buffer, at: number, next: number): void | Promise<void> {
    const { events, malformed } = parseEventLines(bytes);
    for (const m of malformed) this.o.onProtocolError?.(`events.jsonl line at byte ${at + m.offset} skipped: ${m.problem}`);
    return this.o.onEvents(events, next);
  }

  private deliver(gen: number, fn: () => void | Promise<void>): void {
    this.deliveries = this.deliveries.then(async () => {
      if (this.live !== gen) return;
      try {
        await fn();
      } catch (e) {
        // The caller could not take it (a store write failed): the channel starts again from the acks.
        this.o.onProtocolError?.(`delivery failed: ${errorMessage(e)}`);
        if (this.live === gen) {
          this.live = 0;
          this.endLive(`delivery failed: ${errorMessage(e)}`);
        }
      }
    });
  }
}

function describeEnd(e: StreamEnd, stderr: string): string {
  const said = stderr.trim().split("\n").pop();
  const how = e.error
    ? errorMessage(e.error)
    : e.signal
      ? `agent follow was killed (${e.signal})`
      : `agent follow exited with code ${e.exitCode}`;
  return said ? `${how}: ${said}` : how;
}
