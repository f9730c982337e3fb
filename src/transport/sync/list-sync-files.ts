import { readdir, readFile } from "node:fs/promises";
import { join, posix } from "node:path";
import ignore, { type Ignore } from "ignore";

/**
 * What an upload sends: every file, symlink and directory under `root` that no `.gitignore`
 * on its way (root or nested, as git reads them) and no `exclude` pattern leaves out. Paths
 * are relative, POSIX, directories before their contents, sorted, so rsync and tar get the
 * same list and a run is reproducible.
 */
export interface SyncEntry {
  path: string;
  kind: "file" | "dir" | "symlink";
}

/** A fan-out uploads one workdir to every node at once; those concurrent calls share one walk. */
const inFlight = new Map<string, Promise<SyncEntry[]>>();

export function listSyncFiles(root: string, exclude: string[] = []): Promise<SyncEntry[]> {
  const key = JSON.stringify([root, exclude]);
  let p = inFlight.get(key);
  if (!p) {
    p = walkRoot(root, exclude).finally(() => inFlight.delete(key));
    inFlight.set(key, p);
  }
  return p;
}

async function walkRoot(root: string, exclude: string[]): Promise<SyncEntry[]> {
  const out: SyncEntry[] = [];
  const top = ignore().add(exclude);
  await walk(root, "", [{ base: "", ig: top }], out);
  return out;
}

interface Scope {
  /** The directory (relative to root) whose .gitignore this is. */
  base: string;
  ig: Ignore;
}

async function walk(root: string, rel: string, scopes: Scope[], out: SyncEntry[]): Promise<void> {
  const abs = join(root, rel);
  const entries = await readdir(abs, { withFileTypes: true });
  const gi = entries.find((e) => e.name === ".gitignore" && e.isFile());
  const here = gi ? [...scopes, { base: rel, ig: ignore().add(await readFile(join(abs, ".gitignore"), "utf8")) }] : scopes;
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const path = rel ? posix.join(rel, e.name) : e.name;
    const isDir = e.isDirectory();
    if (ignored(here, path, isDir)) continue;
    if (isDir) {
      out.push({ path, kind: "dir" });
      await walk(root, path, here, out);
    } else if (e.isSymbolicLink()) out.push({ path, kind: "symlink" });
    else if (e.isFile()) out.push({ path, kind: "file" });
  }
}

function ignored(scopes: Scope[], path: string, isDir: boolean): boolean {
  for (const s of scopes) {
    const local = s.base ? path.slice(s.base.length + 1) : path;
    // `ignore` needs the trailing slash to apply directory-only patterns such as `build/`.
    if (s.ig.ignores(isDir ? `${local}/` : local)) return true;
  }
  return false;
}
