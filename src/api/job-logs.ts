import { closeSync, openSync, readSync, statSync } from "node:fs";

export interface LogRead {
  /** The log's text from `offset` up to `next_offset` (whole lines, except at the end of a finished log). */
  text: string;
  offset: number;
  /** Where the next read continues (`since`). */
  next_offset: number;
  size_bytes: number;
  /** More bytes are already there past `next_offset` (the read was cut at `max_bytes`). */
  truncated: boolean;
}

export interface LogReadOptions {
  /** Start at this byte offset (a previous read's `next_offset`). */
  since?: number;
  /** Only the last N lines. */
  tail?: number;
  /** Read at most this many bytes. */
  maxBytes?: number;
  /** The log will not grow any more (the job ended): a last line without its newline is returned too. */
  complete?: boolean;
}

/**
 * A job's collected output, read by byte offset so a caller can poll it without missing or
 * repeating a line: each read returns whole lines and where to continue.
 */
export function readLog(path: string, opts: LogReadOptions = {}): LogRead {
  let size = 0;
  try {
    size = statSync(path).size;
  } catch {
    return { text: "", offset: 0, next_offset: 0, size_bytes: 0, truncated: false };
  }
  const max = opts.maxBytes ?? Number.POSITIVE_INFINITY;
  if (opts.tail !== undefined) {
    const start = Math.max(0, size - Math.min(max, size));
    const buf = readBytes(path, start, size);
    // A read that starts mid-file starts mid-line: that partial first line is not one of the last N.
    const first = start > 0 ? buf.indexOf(0x0a) + 1 || buf.length : 0;
    let cut = opts.tail > 0 ? first : buf.length;
    let lines = 0;
    for (let i = buf.length - 2; i >= first && opts.tail > 0; i--) {
      if (buf[i] === 0x0a && ++lines === opts.tail) {
        cut = i + 1;
        break;
      }
    }
    return {
      text: buf.subarray(cut).toString("utf8"),
      offset: start + cut,
      next_offset: size,
      size_bytes: size,
      truncated: false,
    };
  }
  const from = Math.min(Math.max(0, opts.since ?? 0), size);
  const to = Math.min(size, from + max);
  const buf = readBytes(path, from, to);
  let end = buf.length;
  if (!(opts.complete && to === size)) {
    const nl = buf.lastIndexOf(0x0a);
    // A line longer than max_bytes still moves forward, cut where the read ends.
    if (nl >= 0) end = nl + 1;
    else if (to === size) end = 0;
  }
  return {
    text: buf.subarray(0, end).toString("utf8"),
    offset: from,
    next_offset: from + end,
    size_bytes: size,
    truncated: from + end < size && to < size,
  };
}

function readBytes(path: string, from: number, to: number): Buffer {
  const buf = Buffer.alloc(Math.max(0, to - from));
  if (!buf.length) return buf;
  const fd = openSync(path, "r");
  try {
    readSync(fd, buf, 0, buf.length, from);
  } finally {
    closeSync(fd);
  }
  return buf;
}
