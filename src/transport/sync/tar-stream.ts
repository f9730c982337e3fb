import { type ChildProcess, spawn } from "node:child_process";
import { PassThrough, type Readable } from "node:stream";
import type { SyncEntry } from "./list-sync-files.js";

/**
 * The fallback when the remote has no rsync: a tar archive of exactly the listed entries,
 * streamed (never staged on disk), and the matching extractor. The system tar is used on
 * both ends so modes, symlinks and long names behave as users expect.
 */
export interface TarProcess {
  stream: Readable;
  /** Resolves when tar exits 0; rejects with its stderr otherwise. */
  done: Promise<void>;
}

export function tarCreate(root: string, entries: SyncEntry[]): TarProcess {
  const child = spawn("tar", ["-C", root, "-cf", "-", "--no-recursion", "--null", "-T", "-"], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  child.stdin.end(Buffer.from(entries.map((e) => `${e.path}\0`).join("")));
  // Piped at once: when a child exits, Node resumes (drains and discards) any of its output
  // nobody listens to yet, so a small archive whose tar finished before the SSH channel opened
  // arrived empty ("This does not look like a tar archive"). The pass-through holds it, with backpressure.
  const stream = new PassThrough();
  child.stdout.pipe(stream);
  return { stream, done: finished(child, "tar -c") };
}

export function tarExtract(dir: string, input: Readable): Promise<void> {
  const child = spawn("tar", ["-C", dir, "-xf", "-", "--no-same-owner"], { stdio: ["pipe", "ignore", "pipe"] });
  input.pipe(child.stdin);
  return finished(child, "tar -x");
}

/** The remote half of an upload, run by the remote's shell. */
export const remoteTarExtract = (dirQuoted: string): string =>
  `mkdir -p -- ${dirQuoted} && tar -C ${dirQuoted} -xf - --no-same-owner`;

function finished(child: ChildProcess, what: string): Promise<void> {
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) =>
      code === 0 ? resolve() : reject(new Error(`${what} exited with ${code}: ${stderr.trim().slice(-500)}`)),
    );
  });
}
