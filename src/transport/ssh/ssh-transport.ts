import { spawn } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { PassThrough } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import { writeFileAtomic } from "../../base/atomic-file.js";
import type { Clock } from "../../base/clock.js";
import { SpotrunError, usageError } from "../../base/errors.js";
import type { Logger } from "../../base/logger.js";
import { singleQuote as shq } from "../../base/shell-quote.js";
import { listSyncFiles } from "../sync/list-sync-files.js";
import { remoteTarExtract, tarCreate, tarExtract } from "../sync/tar-stream.js";
import type {
  ExecOptions,
  ExecResult,
  StreamHandle,
  StreamOptions,
  SyncOptions,
  Transport,
  TransportStats,
} from "../transport.js";
import { ChannelSlots } from "./channel-slots.js";
import { type RawExecOptions, type RawExecResult, runRemote, wrapWithPid } from "./remote-exec.js";
import { remotePath } from "./remote-path.js";
import { RemoteStream } from "./remote-stream.js";
import { rsyncSshCommand, rsyncTarget } from "./rsync-command.js";
import type { SshSession } from "./ssh-session.js";
import type { SshTarget } from "./ssh-target.js";

export const REMOTE_IO_FAILED = "REMOTE_IO_FAILED";
export const RSYNC_FAILED = "RSYNC_FAILED";
const NOT_FOUND_EXIT = 66;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** How files move: rsync when the host has it, a tar stream over the SSH channel otherwise. */
export type SyncMethod = "rsync" | "tar";

export class SshTransport implements Transport {
  private syncMethod: Promise<SyncMethod> | undefined;
  private readonly slots = new ChannelSlots();
  private readonly counts: TransportStats = { execs: 0, streams: 0, openStreams: 0 };

  constructor(
    readonly label: string,
    readonly home: string,
    private readonly target: SshTarget,
    private readonly session: SshSession,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly keepaliveMs: number,
  ) {}

  async exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const script = this.commandScript(command, opts);
    const outDec = new StringDecoder("utf8");
    const errDec = new StringDecoder("utf8");
    let stdout = "";
    let stderr = "";
    const raw: RawExecOptions = {
      onStdout: (b) => {
        const s = outDec.write(b);
        stdout += s;
        if (s) opts.onStdout?.(s);
      },
      onStderr: (b) => {
        const s = errDec.write(b);
        stderr += s;
        if (s) opts.onStderr?.(s);
      },
    };
    if (opts.stdin !== undefined) raw.stdin = opts.stdin;
    if (opts.timeoutMs !== undefined) raw.timeoutMs = opts.timeoutMs;
    if (opts.signal) raw.signal = opts.signal;
    const r = await this.run(script, raw);
    const outTail = outDec.end();
    const errTail = errDec.end();
    if (outTail) opts.onStdout?.(outTail);
    if (errTail) opts.onStderr?.(errTail);
    return { exitCode: r.exitCode, signal: r.signal, stdout: stdout + outTail, stderr: stderr + errTail };
  }

  /**
   * A long-lived command on one channel of this host's connection: it holds one of the channel
   * slots for as long as it runs, and never opens a connection of its own.
   */
  stream(command: string, opts: StreamOptions): StreamHandle {
    const script = wrapWithPid(this.commandScript(command, opts));
    this.counts.streams++;
    this.counts.openStreams++;
    const start = (async () => {
      const release = await this.slots.acquire(opts.signal);
      try {
        return { client: await this.session.client(), release };
      } catch (e) {
        release();
        throw e;
      }
    })();
    const out: { onStdout: (b: Buffer) => void; onStderr?: (b: Buffer) => void } = { onStdout: opts.onStdout };
    if (opts.onStderr) out.onStderr = opts.onStderr;
    const handle = new RemoteStream(start, this.label, script, this.clock, out);
    const onAbort = () => void handle.close();
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    void handle.done.then(() => {
      this.counts.openStreams--;
      opts.signal?.removeEventListener("abort", onAbort);
    });
    return handle;
  }

  stats(): TransportStats {
    return { ...this.counts };
  }

  async readFile(path: string, offset = 0): Promise<Buffer | undefined> {
    const p = shq(remotePath(this.home, path));
    const r = await this.run(
      `[ -e ${p} ] || exit ${NOT_FOUND_EXIT}; exec tail -c +${Math.max(0, Math.floor(offset)) + 1} -- ${p}`,
    );
    if (r.exitCode === NOT_FOUND_EXIT) return undefined;
    this.check(r, `read ${path}`);
    return r.stdout;
  }

  /**
   * Temp file beside the target, then `mv`: readers on the host see the old or the new file, never
   * half. Owner only (umask 077), as the Transport contract says.
   */
  async writeFile(path: string, data: string | Uint8Array): Promise<void> {
    const p = shq(remotePath(this.home, path));
    const r = await this.run(
      `umask 077; f=${p}; t="$f.spotrun-$$.tmp"; mkdir -p -- "$(dirname -- "$f")" && cat > "$t" && mv -f -- "$t" "$f" || { rm -f -- "$t"; exit 1; }`,
      { stdin: data },
    );
    this.check(r, `write ${path}`);
  }

  async upload(localDir: string, remoteDir: string, opts: SyncOptions = {}): Promise<void> {
    const entries = await listSyncFiles(localDir, opts.exclude ?? []).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== "ENOENT" && e.code !== "ENOTDIR") throw e;
      throw new SpotrunError("not_found", `cannot upload ${localDir}: not a directory`, {
        fix: "check the task's workdir (relative paths start where the task file is)",
        cause: e,
      });
    });
    const dest = remotePath(this.home, remoteDir);
    const method = await this.method();
    this.logger.debug({ host: this.label, files: entries.length, method, dest }, "upload");
    if (method === "rsync") {
      const list = Buffer.from(entries.map((e) => `${e.path}\0`).join(""));
      // The remote rsync is started through the shell, so creating the destination costs no extra round trip.
      const rsyncPath = `mkdir -p -- ${shq(dest)} && rsync`;
      await this.rsync(
        [
          "-a",
          "--from0",
          "--files-from=-",
          `--rsync-path=${rsyncPath}`,
          `${localDir.replace(/\/+$/, "")}/`,
          `${rsyncTarget(this.target, dest)}/`,
        ],
        list,
      );
      return;
    }
    const tar = tarCreate(localDir, entries);
    const [r] = await Promise.all([this.run(remoteTarExtract(shq(dest)), { stdin: tar.stream }), tar.done]);
    this.check(r, `unpack into ${remoteDir}`);
  }

  async download(remote: string, localPath: string): Promise<void> {
    const p = remotePath(this.home, remote);
    const kind = await this.run(
      `if [ -d ${shq(p)} ]; then echo dir; elif [ -e ${shq(p)} ]; then echo file; else exit ${NOT_FOUND_EXIT}; fi`,
    );
    if (kind.exitCode === NOT_FOUND_EXIT) {
      throw new SpotrunError("not_found", `${remote} does not exist on ${this.label}`, {
        fix: "check the path (relative paths start at the job's home)",
      });
    }
    this.check(kind, `inspect ${remote}`);
    if (kind.stdout.toString().trim() === "file") {
      const data = await this.readFile(p);
      if (data === undefined) throw new SpotrunError("not_found", `${remote} vanished on ${this.label} while downloading`);
      await writeFileAtomic(localPath, data);
      return;
    }
    await mkdir(localPath, { recursive: true });
    if ((await this.method()) === "rsync") {
      await this.rsync(["-a", `${rsyncTarget(this.target, p)}/`, `${localPath.replace(/\/+$/, "")}/`]);
      return;
    }
    const pipe = new PassThrough();
    const [r] = await Promise.all([this.run(`exec tar -C ${shq(p)} -cf - .`, { stdout: pipe }), tarExtract(localPath, pipe)]);
    this.check(r, `pack ${remote}`);
  }

  async close(): Promise<void> {
    this.session.close();
  }

  /** Which way files move to this host; asked once, since a host does not gain or lose rsync mid-job. */
  method(): Promise<SyncMethod> {
    this.syncMethod ??= this.run("command -v rsync >/dev/null 2>&1").then((r) => (r.exitCode === 0 ? "rsync" : "tar"));
    return this.syncMethod;
  }

  /** `command` in `sh`, in its working directory (relative to home) with its environment. */
  private commandScript(command: string, opts: { cwd?: string; env?: Record<string, string> }): string {
    const env = Object.entries(opts.env ?? {});
    for (const [k] of env) if (!ENV_NAME.test(k)) throw usageError(`invalid environment variable name ${JSON.stringify(k)}`);
    const envPart = env.length ? `env ${env.map(([k, v]) => shq(`${k}=${v}`)).join(" ")} ` : "";
    const cwd = remotePath(this.home, opts.cwd ?? ".");
    return `cd ${shq(cwd)} && exec ${envPart}sh -c ${shq(command)}`;
  }

  private async run(script: string, opts: RawExecOptions = {}): Promise<RawExecResult> {
    this.counts.execs++;
    const release = await this.slots.acquire(opts.signal);
    try {
      const client = await this.session.client();
      return await runRemote(client, this.label, wrapWithPid(script), this.clock, opts);
    } finally {
      release();
    }
  }

  private check(r: RawExecResult, what: string): void {
    if (r.exitCode === 0) return;
    const detail = r.stderr.toString().trim().split("\n").slice(-2).join(" ");
    throw new SpotrunError("failed", `cannot ${what} on ${this.label} (exit ${r.exitCode ?? r.signal}): ${detail}`, {
      code: REMOTE_IO_FAILED,
      fix: "check the path, permissions and free disk space on the host",
    });
  }

  /** The system rsync over the system ssh, told to trust only the keys we pinned. */
  private rsync(args: string[], stdin?: Buffer): Promise<void> {
    this.counts.execs++;
    const argv = ["-e", rsyncSshCommand(this.target, this.keepaliveMs), ...args];
    return new Promise((resolve, reject) => {
      const child = spawn("rsync", argv, { stdio: ["pipe", "ignore", "pipe"] });
      let stderr = "";
      child.stderr.on("data", (d: Buffer) => {
        stderr += d.toString();
      });
      child.once("error", reject);
      child.once("close", (code) => {
        if (code === 0) return resolve();
        reject(
          new SpotrunError(
            "failed",
            `rsync with ${this.label} failed (exit ${code}): ${stderr.trim().split("\n").slice(-2).join(" ")}`,
            {
              code: RSYNC_FAILED,
              fix: "check the host is reachable and has free disk space, then retry",
            },
          ),
        );
      });
      child.stdin.end(stdin ?? Buffer.alloc(0));
    });
  }
}
