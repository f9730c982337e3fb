import { copyFile, link, mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";

/**
 * A point-in-time copy of a directory made of hard links (a copy where links are not possible).
 * Trainers replace checkpoint files by rename, so a link keeps the version that existed now.
 */
export async function snapshotDir(src: string, dest: string): Promise<string> {
  await mkdir(dest, { recursive: true });
  let entries: import("node:fs").Dirent[];
  try {
    entries = await readdir(src, { withFileTypes: true });
  } catch {
    return dest;
  }
  for (const e of entries) {
    if (e.name.endsWith(".tmp")) continue;
    const from = join(src, e.name);
    const to = join(dest, e.name);
    if (e.isDirectory()) await snapshotDir(from, to);
    else if (e.isFile()) {
      try {
        await link(from, to);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "ENOENT") continue;
        await copyFile(from, to);
      }
    }
  }
  return dest;
}
