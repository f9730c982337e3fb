import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { type TmuxSocket, tmuxSocketArgs } from "./supervisor-spec.js";

const run = promisify(execFile);

export interface PaneInfo {
  window: string;
  pid: number;
  dead: boolean;
}

/**
 * One tmux server per spotrun session, on a socket of its own: agents are windows named after
 * them, and `session attach` reaches the same names on every instance the session lands on.
 */
export class Tmux {
  constructor(
    readonly socket: TmuxSocket,
    private readonly configFile?: string,
  ) {}

  private base(): string[] {
    return [...tmuxSocketArgs(this.socket), ...(this.configFile ? ["-f", this.configFile] : [])];
  }

  async cmd(args: string[], env?: NodeJS.ProcessEnv): Promise<string> {
    const { stdout } = await run("tmux", [...this.base(), ...args], { env: env ?? process.env, timeout: 10_000 });
    return stdout;
  }

  /** Ends a server left by an earlier instance (the socket outlives a reclaimed local instance). */
  async killServer(): Promise<void> {
    await this.cmd(["kill-server"]).catch(() => {});
  }

  async newWindow(
    session: string,
    window: string,
    command: string,
    opts: { cwd: string; env: Record<string, string>; first: boolean },
  ): Promise<void> {
    const envArgs = Object.entries(opts.env).flatMap(([k, v]) => ["-e", `${k}=${v}`]);
    const target = opts.first
      ? ["new-session", "-d", "-s", session, "-n", window, "-x", "200", "-y", "50"]
      : ["new-window", "-d", "-t", `${session}:`, "-n", window];
    await this.cmd([...target, "-c", opts.cwd, ...envArgs, command]);
  }

  async panes(session: string): Promise<PaneInfo[]> {
    // Printable separators only: without a UTF-8 locale (an SSH session) tmux prints a tab as `_`.
    const out = await this.cmd(["list-panes", "-s", "-t", session, "-F", "#{window_name}|#{pane_pid}|#{pane_dead}"]);
    return out
      .split("\n")
      .filter((l) => l.includes("|"))
      .map((l) => {
        const [window, pid, dead] = l.split("|");
        return { window: window as string, pid: Number(pid), dead: dead === "1" };
      });
  }

  async sendKeys(target: string, keys: string[]): Promise<void> {
    await this.cmd(["send-keys", "-t", target, ...keys]);
  }

  async capturePane(target: string): Promise<string> {
    return this.cmd(["capture-pane", "-p", "-t", target]);
  }
}
