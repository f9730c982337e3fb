import { readdir } from "node:fs/promises";
import { join } from "node:path";

/**
 * Every file under `dir`, sorted; a missing directory is empty. Files ending in `.tmp` are left
 * out: they are writes in progress (a trainer's or the file store's own), never a finished object.
 */
export async function walkFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const visit = async (d: string) => {
    let entries: import("node:fs").Dirent[];
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
      throw e;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) await visit(p);
      else if (e.isFile() && !e.name.endsWith(".tmp")) out.push(p);
    }
  };
  await visit(dir);
  return out.sort();
}
