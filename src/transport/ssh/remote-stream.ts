import type { Client, ClientChannel } from "ssh2";
import type { Clock } from "../../base/clock.js";
import { SpotrunError } from "../../base/errors.js";
import type { StreamEnd, StreamHandle } from "../transport.js";
import { killGroup, OPEN_RETRY_MS, PidMark, SSH_DISCONNECTED } from "./remote-exec.js";

/** How long a stream told to stop (stdin closed) may take to leave before its group is killed. */
export const STREAM_CLOSE_GRACE_MS = 2000;

export interface RemoteStreamStart {
  client: Client;
  /** Gives the channel slot back; called once, when the stream is over. */
  release: () => void;
}

/**
 * One long-lived command on one channel of a live connection. Its stdin stays open until
 * `close()`, so a command that exits at EOF (`agent follow`) goes with the channel; the pid
 * line (wrapWithPid) lets a command that does not be stopped with its whole group.
 */
export class RemoteStream implements StreamHandle {
  readonly done: Promise<StreamEnd>;
  private settle: (e: StreamEnd) => void = () => {};
  private settled = false;
  private channel: ClientChannel | undefined;
  private client: Client | undefined;
  private release: (() => void) | undefined;
  private stopping: Promise<StreamEnd> | undefined;
  private readonly marks = new PidMark();
  private onConnClose = (): void =>
    this.finish({
      exitCode: null,
      signal: null,
      error: new SpotrunError("failed", `lost the SSH connection to ${this.label} during a stream`, { code: SSH_DISCONNECTED }),
    });

  constructor(
    start: Promise<RemoteStreamStart>,
    private readonly label: string,
    private readonly script: string,
    private readonly clock: Clock,
    private readonly out: { onStdout: (b: Buffer) => void; onStderr?: (b: Buffer) => void },
  ) {
    this.done = new Promise((resolve) => {
      this.settle = resolve;
    });
    start.then(
      (s) => this.open(s),
      (e: unknown) => this.finish({ exitCode: null, signal: null, error: e instanceof Error ? e : new Error(String(e)) }),
    );
  }

  close(): Promise<StreamEnd> {
    this.stopping ??= this.stop();
    return this.stopping;
  }

  private open(s: RemoteStreamStart): void {
    this.client = s.client;
    this.release = s.release;
    if (this.stopping || this.settled) {
      this.finish({ exitCode: null, signal: null });
      return;
    }
    s.client.once("close", this.onConnClose);
    let attempt = 0;
    const onChannel = (e: Error | undefined, ch: ClientChannel): void => {
      if (e) {
        // A refused channel never ran the command (sshd at MaxSessions for a moment): ask again.
        const wait = OPEN_RETRY_MS[attempt++];
        if (wait === undefined || this.settled || this.stopping) {
          this.finish({ exitCode: null, signal: null, ...(this.stopping ? {} : { error: e }) });
          return;
        }
        this.clock.sleep(wait).then(() => {
          if (!this.settled) s.client.exec(this.script, onChannel);
        });
        return;
      }
      if (this.settled) {
        ch.close();
        return;
      }
      this.channel = ch;
      let exitCode: number | null = null;
      let exitSignal: string | null = null;
      ch.on("exit", (code: number | null, sig?: string) => {
        exitCode = code ?? null;
        exitSignal = sig ?? null;
      });
      ch.on("data", (d: Buffer) => this.out.onStdout(d));
      ch.stderr.on("data", (d: Buffer) => {
        const rest = this.marks.push(d);
        if (rest.length) this.out.onStderr?.(rest);
      });
      ch.on("close", () => {
        const tail = this.marks.flush();
        if (tail.length) this.out.onStderr?.(tail);
        this.finish({ exitCode, signal: exitSignal });
      });
      // Nobody writes to it, yet it stays open: its EOF is the command's cue to stop.
      if (this.stopping) {
        ch.end();
        ch.close();
      }
    };
    s.client.exec(this.script, onChannel);
  }

  private async stop(): Promise<StreamEnd> {
    const ch = this.channel;
    if (ch && !this.settled) {
      ch.end();
      const gone = await Promise.race([this.done.then(() => true), this.clock.sleep(STREAM_CLOSE_GRACE_MS).then(() => false)]);
      if (!gone) {
        const pid = this.marks.pid;
        if (pid && this.client) await killGroup(this.client, pid);
        else ch.signal("KILL");
        ch.close();
        const closed = await Promise.race([
          this.done.then(() => true),
          this.clock.sleep(STREAM_CLOSE_GRACE_MS).then(() => false),
        ]);
        if (!closed) this.finish({ exitCode: null, signal: null, error: new Error(`the stream on ${this.label} did not close`) });
      }
    }
    // Not started yet: open() sees `stopping` and settles; a start that failed has settled already.
    return this.done;
  }

  private finish(end: StreamEnd): void {
    if (this.settled) return;
    this.settled = true;
    this.client?.removeListener("close", this.onConnClose);
    this.release?.();
    this.settle(end);
  }
}
