import { execFile, execFileSync } from "node:child_process";

/** Run a system tool (`ip`, `ssh-keygen`), failing with its stderr so the cause is visible. */
export function runTool(
  file: string,
  args: string[],
  opts: { allowFail?: boolean } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { encoding: "utf8", maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
      if (err && !opts.allowFail) {
        reject(new Error(`${file} ${args.join(" ")} failed (${code}): ${stderr.trim() || err.message}`, { cause: err }));
        return;
      }
      resolve({ code, stdout, stderr });
    });
  });
}

/** The synchronous form, for process-exit cleanup where nothing async runs any more. */
export function runToolSync(file: string, args: string[]): boolean {
  try {
    execFileSync(file, args, { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
