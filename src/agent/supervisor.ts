import { type ChildProcess, spawn } from "node:child_process";

export interface ExitInfo {
  exitCode: number | null;
  signal: string | null;
}

/**
 * The user's process, in a process group of its own so a signal reaches everything it started.
 * Output goes straight to the log file descriptor: nothing is lost if the agent itself dies.
 */
export class Supervisor {
  private child: ChildProcess | undefined;
  readonly exited: Promise<ExitInfo>;
  private resolveExit!: (e: ExitInfo) => void;
  private done = false;

  constructor() {
    this.exited = new Promise((r) => (this.resolveExit = r));
  }

  start(command: string, opts: { cwd: string; env: NodeJS.ProcessEnv; logFd: number }): number {
    const child = spawn("bash", ["-c", command], {
      cwd: opts.cwd,
      env: opts.env,
      detached: true,
      stdio: ["ignore", opts.logFd, opts.logFd],
    });
    this.child = child;
    child.on("error", () => this.finish({ exitCode: 127, signal: null }));
    child.on("exit", (code, signal) => this.finish({ exitCode: code, signal }));
    return child.pid ?? -1;
  }

  private finish(e: ExitInfo): void {
    if (this.done) return;
    this.done = true;
    this.resolveExit(e);
  }

  get running(): boolean {
    return this.child !== undefined && !this.done;
  }

  signal(sig: NodeJS.Signals): void {
    if (!this.running || !this.child?.pid) return;
    try {
      process.kill(-this.child.pid, sig);
    } catch {}
  }

  /** SIGTERM, wait up to `graceMs`, then SIGKILL: the trainer gets its chance to save, but not forever. */
  async stop(graceMs: number): Promise<ExitInfo | undefined> {
    if (!this.running) return this.done ? this.exited : undefined;
    this.signal("SIGTERM");
    const timeout = new Promise<undefined>((r) => setTimeout(() => r(undefined), Math.max(0, graceMs)).unref());
    const res = await Promise.race([this.exited, timeout]);
    if (res) return res;
    this.signal("SIGKILL");
    return this.exited;
  }
}
