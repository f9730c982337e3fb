import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";

/**
 * Tells when the trainer has written a new checkpoint: the directory's signature (paths, sizes,
 * mtimes) changed and then held still for one poll, so a file being written is not uploaded torn.
 * Trainers should write to a temp name and rename; `*.tmp` files are ignored.
 */
export async function dirSignature(dir: string): Promise<string> {
  const parts: string[] = [];
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
        } catch {}
      }
    }
  };
  await visit(dir, "");
  return parts.sort().join("|");
}

export class CheckpointDirWatcher {
  private previous = "";
  private lastUploaded = "";

  constructor(private readonly dir: string) {}

  /** Returns the signature to upload now, or undefined if nothing new and settled. */
  async poll(): Promise<string | undefined> {
    const sig = await dirSignature(this.dir);
    const settled = sig === this.previous;
    this.previous = sig;
    if (!sig || !settled || sig === this.lastUploaded) return undefined;
    return sig;
  }

  markUploaded(sig: string): void {
    this.lastUploaded = sig;
  }

  async changedSinceUpload(): Promise<boolean> {
    const sig = await dirSignature(this.dir);
    return sig !== "" && sig !== this.lastUploaded;
  }
}
