import { spawn } from "node:child_process";
import { statSync } from "node:fs";
import { cp, mkdir, open, readFile } from "node:fs/promises";
import { isAbsolute, join, relative, resolve } from "node:path";
import ignore from "ignore";
import { writeFileAtomic } from "../../base/atomic-file.js";
import { ExternalError } from "../../base/errors.js";
import type {
  ExecOptions,
  ExecResult,
  StreamEnd,
  StreamHandle,
  StreamOptions,
  SyncOptions,
  Transport,
  TransportStats,
} from "../transport.js";

/** How long a stream told to stop (stdin closed) may take to leave before its group is killed. */
const STREAM_CLOSE_GRACE_MS = 2000;

/**
 * A transport to a machine reached by plain process exec: the local provider's instances, whose
 * home is their disk directory. Every process it starts carries `env` (the instance marker among it).
 */
export class LocalTransport implements Transport {
  private readonly counts: TransportStats = { execs: 0, streams: 0, openStreams: 0 };

  constructor(
    readonly label: string,
    readonly home: string,
    private readonly env: Record<string, string>,
    /**
     * Why the machine can run nothing any more (it has ended), asked before each process or write:
     * a cloud machine that is gone refuses the connection, and a process started here on one would
     * outlive its end (its reclaim swept what ran before).
     */
    private readonly ended: () => string | undefined = () => undefined,
  ) {}

  private refuse(): ExternalError | undefined {
    const why = this.ended();
    // Retryable, as a refused SSH connection is: the next visit sees the instance gone and acts on that.
    return why === undefined ? undefined : new ExternalError("local", "InstanceEnded", `${this.label}: ${why}`, true);
  }

  private abs(p: string): string {
    return isAbsolute(p) ? p : join(this.home, p);
  }

  exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    this.counts.execs++;
    const refused = this.refuse();
    if (refused) return Promise.reject(refused);
    return new Promise((resolvePromise, reject) => {
      const child = spawn("bash", ["-c", command], {
        cwd: opts.cwd ? this.abs(opts.cwd) : this.home,
        env: { ...process.env, HOME: this.home, ...this.env, ...opts.env },
        stdio: [opts.stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"],
        signal: opts.signal,
      });
      let stdout = "";
      let stderr = "";
      child.stdout?.setEncoding("utf8").on("data", (d: string) => {
        stdout += d;
        opts.onStdout?.(d);
      });
      child.stderr?.setEncoding("utf8").on("data", (d: string) => {
        stderr += d;
        opts.onStderr?.(d);
      });
      const timer = opts.timeoutMs ? setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs) : undefined;
      child.on("error", (e) => {
        if (timer) clearTimeout(timer);
        reject(e);
      });
      child.on("close", (code, signal) => {
        if (timer) clearTimeout(timer);
        resolvePromise({ exitCode: code, signal, stdout, stderr });
      });
      if (child.stdin) {
        // A command that exits without reading its input must not crash us with EPIPE.
        child.stdin.on("error", () => {});
        child.stdin.end(opts.stdin);
      }
    });
  }

  /** Its own process group, so `close()` can stop whatever the command started with it. */
  stream(command: string, opts: StreamOptions): StreamHandle {
    this.counts.streams++;
    const refused = this.refuse();
    if (refused) {
      const done = Promise.resolve<StreamEnd>({ exitCode: null, signal: null, error: refused });
      return { done, close: () => done };
    }
    this.counts.openStreams++;
    const child = spawn("bash", ["-c", command], {
      cwd: opts.cwd ? this.abs(opts.cwd) : this.home,
      env: { ...process.env, HOME: this.home, ...this.env, ...opts.env },
      stdio: ["pipe", "pipe", "pipe"],
      detached: true,
    });
    child.stdout.on("data", (d: Buffer) => opts.onStdout(d));
    child.stderr.on("data", (d: Buffer) => opts.onStderr?.(d));
    child.stdin.on("error", () => {});
    const done = new Promise<StreamEnd>((resolve) => {
      child.once("error", (error) => resolve({ exitCode: null, signal: null, error }));
      child.once("close", (exitCode, signal) => resolve({ exitCode, signal }));
    });
    void done.then(() => {
      this.counts.openStreams--;
      opts.signal?.removeEventListener("abort", onAbort);
    });
    const killGroup = (sig: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(-child.pid, sig);
      } catch {
        // Already gone.
      }
    };
    let stopping: Promise<StreamEnd> | undefined;
    const close = (): Promise<StreamEnd> => {
      stopping ??= (async () => {
        child.stdin.end();
        const grace = new Promise<false>((r) => setTimeout(() => r(false), STREAM_CLOSE_GRACE_MS).unref());
        if (await Promise.race([done.then(() => true), grace])) return done;
        killGroup("SIGTERM");
        const more = new Promise<false>((r) => setTimeout(() => r(false), STREAM_CLOSE_GRACE_MS).unref());
        if (!(await Promise.race([done.then(() => true), more]))) killGroup("SIGKILL");
        return done;
      })();
      return stopping;
    };
    const onAbort = () => void close();
    if (opts.signal?.aborted) void close();
    else opts.signal?.addEventListener("abort", onAbort, { once: true });
    return { done, close };
  }

  stats(): TransportStats {
    return { ...this.counts };
  }

  async readFile(path: string, offset = 0): Promise<Buffer | undefined> {
    try {
      if (offset === 0) return await readFile(this.abs(path));
      const fh = await open(this.abs(path), "r");
      try {
        const { size } = await fh.stat();
        if (size <= offset) return Buffer.alloc(0);
        const buf = Buffer.alloc(size - offset);
        await fh.read(buf, 0, buf.length, offset);
        return buf;
      } finally {
        await fh.close();
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw e;
    }
  }

  async writeFile(path: string, data: string | Uint8Array): Promise<void> {
    // Not onto an ended machine: the write would make its deleted disk anew.
    const refused = this.refuse();
    if (refused) throw refused;
    await writeFileAtomic(this.abs(path), data, { private: true });
  }

  /** Copy a directory, leaving out what its top-level .gitignore and `exclude` name. */
  async upload(localDir: string, remoteDir: string, opts: SyncOptions = {}): Promise<void> {
    const src = resolve(localDir);
    const ig = ignore()
      .add(opts.exclude ?? [])
      .add(".git");
    const gi = await readFile(join(src, ".gitignore"), "utf8").catch(() => "");
    ig.add(gi);
    const refused = this.refuse();
    if (refused) throw refused;
    const dest = this.abs(remoteDir);
    await mkdir(dest, { recursive: true });
    await cp(src, dest, {
      recursive: true,
      force: true,
      filter: (p) => {
        const rel = relative(src, p);
        if (rel === "") return true;
        // Directory patterns (`build/`) only match a path that ends in a slash.
        return !ig.ignores(statSync(p).isDirectory() ? `${rel}/` : rel);
      },
    });
  }

  async download(remotePath: string, localPath: string): Promise<void> {
    await cp(this.abs(remotePath), localPath, { recursive: true, force: true });
  }

  async close(): Promise<void> {}
}
