import { randomBytes } from "node:crypto";
import { mkdir, open, rename } from "node:fs/promises";
import { dirname } from "node:path";

/**
 * Write a file so readers see the old or the new content, never half of it: temp file, fsync,
 * rename. A private file (one that may carry secrets) is the owner's only: 0600, new directories 0700.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, opts: { private?: boolean } = {}): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: opts.private ? 0o700 : 0o777 });
  const tmp = `${path}.${randomBytes(4).toString("hex")}.tmp`;
  const fh = await open(tmp, "w", opts.private ? 0o600 : 0o666);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}
