import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, readFile, rename, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";

/** The controller's own Node, as the instance would need it: architecture, libc, version. */
export interface LocalNodeInfo {
  path: string;
  version: string;
  arch: string;
  libc: "glibc" | "musl" | "unknown";
}

export interface GzippedNode {
  /** SHA-256 of the binary itself (what the instance checks after unpacking). */
  sha256: string;
  gzPath: string;
  gzBytes: number;
  read(): Promise<Buffer>;
}

/** Where spotrun caches what it makes for uploads, outside any checkout. */
export const spotrunCacheDir = (): string => join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "spotrun");

let libc: LocalNodeInfo["libc"] | undefined;

/** This process's libc, as Node reports it: asked once (a report takes ~5 ms, and every bootstrap asked). */
function processLibc(): LocalNodeInfo["libc"] {
  if (libc) return libc;
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  libc = header?.glibcVersionRuntime ? "glibc" : process.platform === "linux" ? "musl" : "unknown";
  return libc;
}

/**
 * The Node binary this controller runs on, gzipped once per machine (keyed by its hash) for
 * instances that cannot download one. Its libc is the one Node itself reports.
 */
export class LocalNodeBinary {
  private made: Promise<GzippedNode> | undefined;

  constructor(
    private readonly execPath: string = process.execPath,
    private readonly cacheDir: string = join(spotrunCacheDir(), "node-upload"),
  ) {}

  describe(): LocalNodeInfo {
    return { path: this.execPath, version: process.version, arch: process.arch, libc: processLibc() };
  }

  gzipped(): Promise<GzippedNode> {
    this.made ??= this.make().catch((e) => {
      this.made = undefined;
      throw e;
    });
    return this.made;
  }

  private async make(): Promise<GzippedNode> {
    const sha256 = await hashFile(this.execPath);
    const gzPath = join(this.cacheDir, `${sha256}.gz`);
    const existing = await stat(gzPath).catch(() => undefined);
    if (!existing) {
      await mkdir(this.cacheDir, { recursive: true });
      const tmp = `${gzPath}.${process.pid}.tmp`;
      // Level 6: made once per machine, sent to every instance that needs it.
      await pipeline(createReadStream(this.execPath), createGzip({ level: 6 }), createWriteStream(tmp));
      await rename(tmp, gzPath);
    }
    const gzBytes = (await stat(gzPath)).size;
    return { sha256, gzPath, gzBytes, read: () => readFile(gzPath) };
  }
}

async function hashFile(path: string): Promise<string> {
  const h = createHash("sha256");
  await pipeline(
    createReadStream(path),
    new Transform({
      transform(chunk, _enc, cb) {
        h.update(chunk);
        cb();
      },
    }),
  );
  return h.digest("hex");
}
