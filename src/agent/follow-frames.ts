/**
 * The wire format of `spotrun agent follow`: one ASCII line per frame, so a frame torn across
 * reads is simply a line not yet ended. Offsets are byte offsets into the instance's files.
 *
 *   hello 1 <events_offset> <log_offset>   first line: protocol version and where following starts
 *   log <offset> <base64>                  bytes of run.log starting at <offset>
 *   ev <offset> <base64>                   whole lines of events.jsonl starting at <offset>
 *   hb <events_size> <log_size> [<beat>]   every few seconds, idle or not; -1 = file not there yet;
 *                                          <beat>: the agent's own heartbeat (ms, the instance's clock)
 *
 * Within one poll the log frames go out before the event frames, so a run's last lines reach the
 * controller before its exit event. A reader skips (and reports) a line it cannot parse and treats
 * an unknown tag as a no-op, so a newer follow can add frames without breaking an older controller.
 */
export const FOLLOW_PROTOCOL_VERSION = 1;
/** Raw bytes per data frame (64 KiB once in base64): large appends go out as several frames. */
export const FRAME_BYTES = 48 * 1024;
/** A line longer than this is not a frame of ours: it is dropped, never buffered without end. */
export const MAX_FRAME_LINE = 4 * 1024 * 1024;

export type FollowFrame =
  | { kind: "hello"; version: number; eventsOffset: number; logOffset: number }
  | { kind: "log"; offset: number; bytes: Buffer }
  | { kind: "ev"; offset: number; bytes: Buffer }
  | { kind: "hb"; eventsSize: number; logSize: number; agentBeat?: number }
  /** A tag this reader does not know: an explicit no-op. */
  | { kind: "unknown"; tag: string }
  /** A line that is not a valid frame: skipped. Only its length is kept: its bytes may be the user's log. */
  | { kind: "bad"; reason: string; bytes: number };

export const helloFrame = (eventsOffset: number, logOffset: number): string =>
  `hello ${FOLLOW_PROTOCOL_VERSION} ${eventsOffset} ${logOffset}\n`;
export const dataFrame = (kind: "log" | "ev", offset: number, bytes: Uint8Array): string =>
  `${kind} ${offset} ${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64")}\n`;
/** `agentBeat`: what the agent last wrote to its heartbeat file, so its liveness needs no read of its own. */
export const heartbeatFrame = (eventsSize: number, logSize: number, agentBeat?: number): string =>
  `hb ${eventsSize} ${logSize}${agentBeat !== undefined ? ` ${agentBeat}` : ""}\n`;

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const UINT = /^\d{1,15}$/;
const SIZE = /^(-1|\d{1,15})$/;

/** One line (without its newline) to a frame. Never throws. */
export function parseFrame(line: string): FollowFrame {
  const bad = (reason: string): FollowFrame => ({ kind: "bad", reason, bytes: line.length });
  const parts = line.split(" ");
  const tag = parts[0] ?? "";
  switch (tag) {
    case "hello": {
      const [, v, e, l] = parts;
      if (parts.length !== 4 || !UINT.test(v ?? "") || !UINT.test(e ?? "") || !UINT.test(l ?? "")) return bad("malformed hello");
      return { kind: "hello", version: Number(v), eventsOffset: Number(e), logOffset: Number(l) };
    }
    case "log":
    case "ev": {
      const [, off, b64] = parts;
      if (parts.length !== 3 || !UINT.test(off ?? "")) return bad(`malformed ${tag} frame`);
      // Buffer.from(…, "base64") skips characters it does not know; a frame must be exact.
      if (!b64 || b64.length % 4 !== 0 || !BASE64.test(b64)) return bad(`bad base64 in ${tag} frame`);
      return { kind: tag, offset: Number(off), bytes: Buffer.from(b64, "base64") };
    }
    case "hb": {
      const [, e, l, b] = parts;
      if ((parts.length !== 3 && parts.length !== 4) || !SIZE.test(e ?? "") || !SIZE.test(l ?? ""))
        return bad("malformed heartbeat");
      if (b !== undefined && !UINT.test(b)) return bad("malformed heartbeat");
      return { kind: "hb", eventsSize: Number(e), logSize: Number(l), ...(b !== undefined ? { agentBeat: Number(b) } : {}) };
    }
    default:
      if (!/^[a-z][a-z0-9_-]{0,31}$/.test(tag)) return bad("not a frame");
      return { kind: "unknown", tag };
  }
}

/**
 * Bytes from the channel in, frames out: chunks may end anywhere, a frame is yielded only once
 * its newline has arrived. A line that grows past MAX_FRAME_LINE is reported and dropped.
 */
export class FrameDecoder {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private overlong = false;

  push(chunk: Buffer): FollowFrame[] {
    const frames: FollowFrame[] = [];
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl < 0) break;
      const piece = chunk.subarray(start, nl);
      start = nl + 1;
      if (this.overlong) {
        this.overlong = false;
        this.reset();
        continue;
      }
      const line = this.pendingBytes ? Buffer.concat([...this.pending, piece]) : piece;
      this.reset();
      if (line.length === 0) continue;
      frames.push(parseFrame(line.toString("latin1")));
    }
    const rest = chunk.subarray(start);
    if (rest.length && !this.overlong) {
      this.pending.push(Buffer.from(rest));
      this.pendingBytes += rest.length;
      if (this.pendingBytes > MAX_FRAME_LINE) {
        frames.push({ kind: "bad", reason: `line longer than ${MAX_FRAME_LINE} bytes`, bytes: this.pendingBytes });
        this.overlong = true;
        this.reset();
      }
    }
    return frames;
  }

  /** Bytes of an unfinished line held back (a channel that ends mid-frame leaves some). */
  get buffered(): number {
    return this.pendingBytes;
  }

  private reset(): void {
    this.pending = [];
    this.pendingBytes = 0;
  }
}
