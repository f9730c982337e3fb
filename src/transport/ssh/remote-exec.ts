import type { Readable, Writable } from "node:stream";
import type { Client, ClientChannel } from "ssh2";
import type { Clock } from "../../base/clock.js";
import { SpotrunError } from "../../base/errors.js";

export const SSH_DISCONNECTED = "SSH_DISCONNECTED";
export const EXEC_TIMEOUT = "EXEC_TIMEOUT";
export const OPEN_RETRY_MS = [50, 100, 200, 400, 800];

export interface RawExecOptions {
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
  stdin?: string | Uint8Array | Readable;
  /** Pipe stdout here (with backpressure) instead of collecting it, for archives and large files. */
  stdout?: Writable;
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface RawExecResult {
  exitCode: number | null;
  signal: string | null;
  stdout: Buffer;
  stderr: Buffer;
}

/** The first thing every remote command says, on stderr, so we know which process group to stop. */
const PID_MARK = "@@spotrun-pid ";
const PID_RE = /@@spotrun-pid (\d+)\n/;

/**
 * sshd makes each session's shell a session and process-group leader, and a non-interactive
 * shell keeps its children in that group; so `kill -TERM -PID` stops the whole command tree,
 * which closing the channel alone would not.
 */
export const wrapWithPid = (script: string): string => `printf '${PID_MARK}%s\\n' $$ >&2; ${script}`;

export const killGroupScript = (pid: number): string =>
  `kill -TERM -${pid} 2>/dev/null; i=0; while kill -0 -${pid} 2>/dev/null && [ $i -lt 30 ]; do sleep 0.1; i=$((i+1)); done; kill -KILL -${pid} 2>/dev/null; true`;

/** Run one already-wrapped script on a connection, collecting raw bytes. */
export function runRemote(
  client: Client,
  label: string,
  script: string,
  clock: Clock,
  opts: RawExecOptions = {},
): Promise<RawExecResult> {
  return new Promise<RawExecResult>((resolve, reject) => {
    if (opts.signal?.aborted) return reject(opts.signal.reason);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const marks = new PidMark();
    let onPid: (p: number | undefined) => void = () => {};
    const pidKnown = new Promise<number | undefined>((resolve) => {
      onPid = resolve;
      setTimeout(() => resolve(marks.pid), 2000).unref();
    });
    let settled = false;
    let channel: ClientChannel | undefined;
    const timer = new AbortController();

    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      timer.abort();
      client.removeListener("close", onClose);
      opts.signal?.removeEventListener("abort", onAbort);
      fn();
    };
    let stopReason: Error | undefined;
    const stop = (why: Error) => {
      if (stopReason || settled) return;
      stopReason = why;
      // The pid line goes out on stderr before the command starts, but stdout may overtake it on
      // the wire; give it a moment before settling for signalling only the channel's shell.
      const kill = pidKnown.then((p) => {
        if (p) return killGroup(client, p);
        channel?.signal("KILL");
      });
      kill.finally(() => {
        channel?.close();
        finish(() => reject(why));
      });
    };
    const onClose = () =>
      finish(() =>
        reject(
          new SpotrunError("failed", `lost the SSH connection to ${label} while running a command`, {
            code: SSH_DISCONNECTED,
            fix: "the command's outcome on the host is unknown; check the host and retry",
          }),
        ),
      );
    const onAbort = () => stop(opts.signal?.reason instanceof Error ? opts.signal.reason : new Error("aborted"));
    client.once("close", onClose);
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    if (opts.timeoutMs !== undefined) {
      const ms = opts.timeoutMs;
      clock.sleep(ms, timer.signal).then(
        () =>
          stop(
            new SpotrunError("failed", `command on ${label} timed out after ${ms} ms`, {
              code: EXEC_TIMEOUT,
              fix: "raise the timeout or look at what the command waits for",
            }),
          ),
        () => undefined,
      );
    }

    const onChannel = (e: Error | undefined, ch: ClientChannel) => {
      if (e) {
        // A refused channel never ran the command, so asking again is safe. sshd frees a finished
        // session a moment after it closes, so a busy connection can be refused briefly at MaxSessions.
        const wait = OPEN_RETRY_MS[openAttempt++];
        if (wait === undefined || settled) return finish(() => reject(e));
        clock.sleep(wait).then(() => {
          if (!settled) client.exec(script, onChannel);
        });
        return;
      }
      channel = ch;
      if (settled) return ch.close();
      let exitCode: number | null = null;
      let exitSignal: string | null = null;
      ch.on("exit", (code: number | null, sig?: string) => {
        exitCode = code ?? null;
        exitSignal = sig ?? null;
      });
      if (opts.stdout) ch.pipe(opts.stdout);
      else
        ch.on("data", (d: Buffer) => {
          out.push(d);
          opts.onStdout?.(d);
        });
      ch.stderr.on("data", (d: Buffer) => {
        const rest = marks.push(d);
        if (marks.settled) onPid(marks.pid);
        if (rest.length) {
          err.push(rest);
          opts.onStderr?.(rest);
        }
      });
      ch.on("close", () => {
        onPid(marks.pid);
        const tail = marks.flush();
        if (tail.length) err.push(tail);
        // A stop in progress settles once the whole group is gone, not when its leader exits.
        if (stopReason) return;
        finish(() => resolve({ exitCode, signal: exitSignal, stdout: Buffer.concat(out), stderr: Buffer.concat(err) }));
      });
      const input = opts.stdin;
      if (input === undefined) ch.end();
      else if (typeof input === "string" || input instanceof Uint8Array) ch.end(input);
      else input.pipe(ch);
    };
    let openAttempt = 0;
    client.exec(script, onChannel);
  });
}

/**
 * Takes the pid line off the front of a command's stderr: `push` returns the bytes that are the
 * command's own, `pid` is set once the line was seen (`settled` also when 4 KiB came without it).
 */
export class PidMark {
  pid: number | undefined;
  private pending: Buffer | undefined = Buffer.alloc(0);

  get settled(): boolean {
    return this.pending === undefined;
  }

  push(d: Buffer): Buffer {
    if (this.pending === undefined) return d;
    this.pending = Buffer.concat([this.pending, d]);
    const m = PID_RE.exec(this.pending.toString("latin1"));
    if (!m && this.pending.length < 4096) return Buffer.alloc(0);
    const p = this.pending;
    this.pending = undefined;
    if (!m) return p;
    this.pid = Number(m[1]);
    return Buffer.concat([p.subarray(0, m.index), p.subarray(m.index + m[0].length)]);
  }

  /** What is held back when the command ends before the line was complete. */
  flush(): Buffer {
    const p = this.pending ?? Buffer.alloc(0);
    this.pending = undefined;
    return p;
  }
}

export function killGroup(client: Client, pid: number): Promise<void> {
  return new Promise((resolve) => {
    client.exec(killGroupScript(pid), (e, ch) => {
      if (e) return resolve();
      ch.on("close", () => resolve());
      ch.resume();
      ch.stderr.resume();
      ch.end();
    });
  });
}
