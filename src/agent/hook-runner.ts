import { spawn } from "node:child_process";

export interface HookResult {
  outcome: "ok" | "failed" | "timeout";
  exitCode: number | null;
  ms: number;
}

/**
 * Run a checkpoint hook in its own process group with a hard timeout; on timeout the whole group
 * is killed so a hanging hook cannot hold up the upload that follows.
 */
export function runHook(
  command: string,
  opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number; logFd: number },
): Promise<HookResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn("bash", ["-c", command], {
      cwd: opts.cwd,
      env: opts.env,
      detached: true,
      stdio: ["ignore", opts.logFd, opts.logFd],
    });
    let timedOut = false;
    const timer = setTimeout(
      () => {
        timedOut = true;
        try {
          process.kill(-(child.pid as number), "SIGKILL");
        } catch {}
      },
      Math.max(0, opts.timeoutMs),
    );
    const done = (code: number | null) => {
      clearTimeout(timer);
      resolve({ outcome: timedOut ? "timeout" : code === 0 ? "ok" : "failed", exitCode: code, ms: Date.now() - started });
    };
    child.on("error", () => done(127));
    child.on("exit", (code) => done(code));
  });
}
