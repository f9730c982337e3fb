import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join, posix } from "node:path";

/** sha256 of every regular file under `dir`, keyed by its relative POSIX path. */
export async function checksums(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (rel: string) => {
    for (const e of await readdir(join(dir, rel), { withFileTypes: true })) {
      const p = rel ? posix.join(rel, e.name) : e.name;
      if (e.isDirectory()) await walk(p);
      else if (e.isFile())
        out.set(
          p,
          createHash("sha256")
            .update(await readFile(join(dir, p)))
            .digest("hex"),
        );
    }
  };
  await walk("");
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : 1)));
}
