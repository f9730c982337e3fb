import { type FSWatcher, readFileSync, watch } from "node:fs";
import { open } from "node:fs/promises";
import type { Readable, Writable } from "node:stream";
import { dataFrame, FRAME_BYTES, heartbeatFrame, helloFrame } from "./follow-frames.js";
import { AGENT_DIR, agentPaths } from "./protocol.js";

/**
 * `spotrun agent follow`: the instance's end of the controller's one long-lived channel. It tails
 * the agent's events file and run log from the offsets the controller holds and writes what is
 * appended as frames (follow-frames.ts) on stdout, with a heartbeat when nothing happens, until
 * its stdin closes or stdout breaks — the channel's end is its end, so none is left behind.
 */
export interface FollowOptions {
  /** The agent's state directory (events.jsonl, run.log), relative to the working directory or absolute. */
  dir: string;
  eventsOffset: number;
  logOffset: number;
  out: Writable;
  /** Its end (EOF, error) ends following. */
  input: Readable;
  heartbeatMs?: number;
  /** The fallback poll under fs.watch, which can miss events (and cannot watch what does not exist yet). */
  pollMs?: number;
}

export const FOLLOW_HEARTBEAT_MS = 2000;
export const FOLLOW_POLL_MS = 200;
/** Bytes read from one file per pass; a larger backlog is sent over several passes. */
const READ_BYTES = 1024 * 1024;

/** Where one file is followed from, and how big it was when last looked at (-1: absent). */
class Tail {
  size = -1;
  constructor(
    private readonly path: string,
    public offset: number,
  ) {}

  /**
   * The bytes past the offset, at most READ_BYTES. Opened by path each time: the agent's files are
   * append-only, but a new agent may make them anew, and an fd held would follow the old one.
   */
  async read(): Promise<Buffer | undefined> {
    let fh: Awaited<ReturnType<typeof open>>;
    try {
      fh = await open(this.path, "r");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") {
        this.size = -1;
        return undefined;
      }
      throw e;
    }
    try {
      this.size = (await fh.stat()).size;
      // A file shorter than the offset is not ours to re-read from 0; the heartbeat shows its size.
      if (this.size <= this.offset) return undefined;
      const buf = Buffer.alloc(Math.min(READ_BYTES, this.size - this.offset));
      const { bytesRead } = await fh.read(buf, 0, buf.length, this.offset);
      return buf.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  }
}

export async function follow(o: FollowOptions): Promise<void> {
  const paths = agentPaths(o.dir);
  const events = new Tail(paths.events, o.eventsOffset);
  const log = new Tail(paths.log, o.logOffset);
  let stopped = false;
  let stop: () => void = () => {};
  const ended = new Promise<void>((resolve) => {
    stop = () => {
      stopped = true;
      resolve();
    };
  });

  const write = async (s: string): Promise<void> => {
    if (stopped) return;
    if (!o.out.write(s)) await Promise.race([new Promise((r) => o.out.once("drain", r)), ended]);
  };

  /** One pass: new log bytes, then the whole event lines seen before them (see follow-frames.ts). */
  const pass = async (): Promise<boolean> => {
    const ev = await events.read();
    const lg = await log.read();
    let full = false;
    if (lg?.length) {
      for (let i = 0; i < lg.length; i += FRAME_BYTES) {
        const piece = lg.subarray(i, i + FRAME_BYTES);
        await write(dataFrame("log", log.offset, piece));
        log.offset += piece.length;
      }
      full ||= lg.length === READ_BYTES;
    }
    const whole = ev ? ev.lastIndexOf(0x0a) + 1 : 0;
    if (ev && whole > 0) {
      let i = 0;
      while (i < whole) {
        // Cut at a line end at or before FRAME_BYTES; a line longer than that goes whole.
        let end = Math.min(whole, i + FRAME_BYTES);
        if (end < whole) {
          const nl = ev.lastIndexOf(0x0a, end - 1);
          end = nl >= i ? nl + 1 : ev.indexOf(0x0a, end) + 1;
        }
        await write(dataFrame("ev", events.offset, ev.subarray(i, end)));
        events.offset += end - i;
        i = end;
      }
      full ||= ev.length === READ_BYTES;
    }
    return full;
  };

  // Passes never overlap: a wake-up during one asks for another right after it.
  let running = false;
  let again = false;
  let failure: unknown;
  const pump = (): void => {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    again = false;
    pass().then(
      (more) => {
        running = false;
        if (more || again) pump();
      },
      (e: unknown) => {
        running = false;
        failure = e;
        stop();
      },
    );
  };

  let watcher: FSWatcher | undefined;
  const ensureWatch = (): void => {
    if (watcher || stopped) return;
    try {
      watcher = watch(o.dir, { persistent: false }, () => pump());
      watcher.on("error", () => {
        watcher?.close();
        watcher = undefined;
      });
    } catch {
      // Not there yet (the agent makes it): the poll keeps looking.
    }
  };

  o.input.on("end", stop);
  o.input.on("close", stop);
  o.input.on("error", stop);
  o.input.resume();
  o.out.on("error", stop);
  o.out.on("close", stop);

  await write(helloFrame(events.offset, log.offset));
  ensureWatch();
  pump();
  const poll = setInterval(() => {
    ensureWatch();
    pump();
  }, o.pollMs ?? FOLLOW_POLL_MS);
  const beat = setInterval(() => {
    // Sizes as last seen: the controller can tell a quiet agent from a stuck follow; and the
    // agent's own heartbeat, so the controller knows the agent lives without a read of its own.
    void write(heartbeatFrame(events.size, log.size, agentBeat(paths.heartbeat)));
  }, o.heartbeatMs ?? FOLLOW_HEARTBEAT_MS);
  try {
    await ended;
  } finally {
    clearInterval(poll);
    clearInterval(beat);
    watcher?.close();
  }
  if (failure) throw failure;
}

export interface FollowArgs {
  dir: string;
  eventsOffset: number;
  logOffset: number;
  heartbeatMs?: number;
}

/**
 * The flags of `agent follow`, read without the command table (instance-main's fast path, since
 * the controller opens a follow on every instance and after every drop). A string is the error.
 */
export function parseFollowArgs(args: string[]): FollowArgs | string {
  const out: FollowArgs = { dir: AGENT_DIR, eventsOffset: 0, logOffset: 0 };
  for (let i = 0; i < args.length; i++) {
    const flag = args[i] as string;
    const eq = flag.indexOf("=");
    const name = eq > 0 ? flag.slice(0, eq) : flag;
    const value = eq > 0 ? flag.slice(eq + 1) : args[++i];
    const count = (what: string, min: number): number | string =>
      value !== undefined && /^\d{1,15}$/.test(value) && Number(value) >= min
        ? Number(value)
        : `${name} ${value ?? ""} is not ${what} — pass a whole number${min ? ` ≥ ${min}` : ""}`.replace("  ", " ");
    let n: number | string;
    switch (name) {
      case "--events-offset":
      case "--log-offset":
        n = count("a byte offset", 0);
        if (typeof n === "string") return n;
        if (name === "--events-offset") out.eventsOffset = n;
        else out.logOffset = n;
        break;
      case "--heartbeat-ms":
        n = count("a number of milliseconds", 100);
        if (typeof n === "string") return n;
        out.heartbeatMs = n;
        break;
      case "--dir":
        if (!value) return "--dir needs a directory — pass the agent's state directory (default .spotrun)";
        out.dir = value;
        break;
      default:
        return `unknown option ${name} — see spotrun agent follow --help`;
    }
  }
  return out;
}

/** Run follow on this process's stdio; the exit code. */
export async function followMain(args: FollowArgs): Promise<number> {
  await follow({
    dir: args.dir,
    eventsOffset: args.eventsOffset,
    logOffset: args.logOffset,
    out: process.stdout,
    input: process.stdin,
    ...(args.heartbeatMs ? { heartbeatMs: args.heartbeatMs } : {}),
  });
  return 0;
}

/** The agent's last heartbeat (ms since the epoch), or undefined before it wrote one. */
function agentBeat(file: string): number | undefined {
  try {
    const n = Number(readFileSync(file, "utf8").trim());
    return Number.isSafeInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}
