import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";

/**
 * Tells when the trainer has written a new checkpoint: the directory's signature (paths, sizes,
 * mtimes) changed and then held still, so a file being written is not uploaded torn.
 * Trainers should write to a temp name and rename; `*.tmp` files are ignored.
 */
export async function dirSignature(dir: string): Promise<string> {
  return (await dirState(dir)).signature;
}

export async function dirState(dir: string): Promise<{ signature: string; newestMtime: number }> {
  const parts: string[] = [];
  let newestMtime = 0;
  const visit = async (d: string, rel: string) => {
    let entries: import("node:fs").Dirent[];
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.name.endsWith(".tmp")) continue;
      const p = join(d, e.name);
      if (e.isDirectory()) await visit(p, `${rel}${e.name}/`);
      else if (e.isFile()) {
        try {
          const s = await stat(p);
          parts.push(`${rel}${e.name}:${s.size}:${s.mtimeMs}`);
          newestMtime = Math.max(newestMtime, s.mtimeMs);
        } catch {}
      }
    }
  };
  await visit(dir, "");
  return { signature: parts.sort().join("|"), newestMtime };
}

export class CheckpointDirWatcher {
  private previous = "";
  private lastUploaded = "";

  constructor(private readonly dir: string) {}

  /**
   * Returns the signature to upload now, or undefined if nothing is new and settled. Settled: the
   * same as at the last poll, or untouched for `quietMs` — so a trainer that checkpoints faster
   * than we poll is still uploaded.
   */
  async poll(quietMs = 200, maxWaitMs = 1000): Promise<string | undefined> {
    const { signature: sig, newestMtime } = await dirState(this.dir);
    const now = Date.now();
    const settled = sig === this.previous || now - newestMtime >= quietMs;
    this.previous = sig;
    if (!sig || sig === this.lastUploaded) return undefined;
    // A trainer that rewrites its checkpoint faster than it ever settles still gets uploaded, at
    // most once a second: the upload reads hard-link snapshots, so a renamed file is whole.
    if (!settled && now - this.lastUploadAt < maxWaitMs) return undefined;
    return sig;
  }

  private lastUploadAt = Date.now();

  markUploaded(sig: string): void {
    this.lastUploaded = sig;
    this.lastUploadAt = Date.now();
  }

  async changedSinceUpload(): Promise<boolean> {
    const sig = await dirSignature(this.dir);
    return sig !== "" && sig !== this.lastUploaded;
  }
}
