import { copyFile, mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
import { pathToFileURL } from "node:url";
import type { BlobInfo, BlobStore } from "../blob-store.js";
import { walkFiles } from "../walk-files.js";

/** Objects as files under a root directory; every write is temp-then-rename so none is seen half-written. */
export class FileBlobStore implements BlobStore {
  constructor(readonly root: string) {}

  get url(): string {
    return pathToFileURL(this.root).href;
  }

  private path(key: string): string {
    if (key.split("/").includes("..")) throw new Error(`invalid object key ${key}`);
    return join(this.root, ...key.split("/"));
  }

  async putFile(key: string, localPath: string): Promise<void> {
    const dest = this.path(key);
    await mkdir(dirname(dest), { recursive: true });
    const tmp = `${dest}.${process.pid}.tmp`;
    await copyFile(localPath, tmp);
    await rename(tmp, dest);
  }

  async putBytes(key: string, data: Uint8Array): Promise<void> {
    const dest = this.path(key);
    await mkdir(dirname(dest), { recursive: true });
    const tmp = `${dest}.${process.pid}.tmp`;
    await writeFile(tmp, data);
    await rename(tmp, dest);
  }

  async getFile(key: string, localPath: string): Promise<void> {
    await mkdir(dirname(localPath), { recursive: true });
    await copyFile(this.path(key), localPath);
  }

  async getBytes(key: string): Promise<Uint8Array | undefined> {
    try {
      return await readFile(this.path(key));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw e;
    }
  }

  async list(prefix: string): Promise<BlobInfo[]> {
    const out: BlobInfo[] = [];
    for (const p of await walkFiles(this.root)) {
      const key = relative(this.root, p).split(sep).join("/");
      if (key.startsWith(prefix)) out.push({ key, size: (await stat(p)).size });
    }
    return out;
  }

  async deletePrefix(prefix: string): Promise<void> {
    if (prefix.endsWith("/")) await rm(this.path(prefix.slice(0, -1)), { recursive: true, force: true });
    else for (const o of await this.list(prefix)) await rm(this.path(o.key), { force: true });
  }
}
