import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, rename, rm, stat } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import type { BlobStore } from "./blob-store.js";
import { walkFiles } from "./walk-files.js";

/**
 * The generation protocol: files go up under a new generation prefix, a manifest with sizes
 * and sha256 is written last, and a resume takes the newest generation whose manifest
 * verifies. A torn upload has no manifest (or objects that disagree with it) and is skipped.
 */
export const MANIFEST = "MANIFEST.json";

export interface ManifestFile {
  path: string;
  size: number;
  sha256: string;
}

export interface Manifest {
  version: 1;
  generation: string;
  job_id: string;
  attempt: number;
  created_at: string;
  reason: string;
  files: ManifestFile[];
  total_bytes: number;
}

export const GENERATION_NAME = /^g-\d{6}-\d{13}$/;

/** `…/store/g-000003-…` → the store and the generation; a URL not ending in a generation is the store itself. */
export function splitGenerationUrl(url: string): { storeUrl: string; generation: string | undefined } {
  const trimmed = url.replace(/\/+$/, "");
  const slash = trimmed.lastIndexOf("/");
  const last = trimmed.slice(slash + 1);
  return GENERATION_NAME.test(last) && slash > 0
    ? { storeUrl: trimmed.slice(0, slash), generation: last }
    : { storeUrl: trimmed, generation: undefined };
}

/** Sortable generation name: attempt first (attempts are sequential), then time within it. */
export function generationName(attempt: number, nowMs: number): string {
  return `g-${String(attempt).padStart(6, "0")}-${String(nowMs).padStart(13, "0")}`;
}

async function sha256File(path: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest("hex");
}

/** Run `fn` over items with at most `limit` in flight. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export interface SaveMeta {
  jobId: string;
  attempt: number;
  reason: string;
  now: number;
}

export interface VerifiedGeneration {
  manifest: Manifest;
}

export class CheckpointStore {
  constructor(
    readonly blobs: BlobStore,
    private readonly concurrency = 8,
  ) {}

  get url(): string {
    return this.blobs.url;
  }

  /** Upload every file of `localDir` as a new generation; the manifest goes last. */
  async save(localDir: string, meta: SaveMeta): Promise<Manifest> {
    const generation = generationName(meta.attempt, meta.now);
    const paths = await walkFiles(localDir);
    const files = await mapLimit(paths, this.concurrency, async (p): Promise<ManifestFile> => {
      const rel = relative(localDir, p).split(sep).join("/");
      const [size, sha256] = await Promise.all([stat(p).then((s) => s.size), sha256File(p)]);
      await this.blobs.putFile(`${generation}/files/${rel}`, p);
      return { path: rel, size, sha256 };
    });
    const manifest: Manifest = {
      version: 1,
      generation,
      job_id: meta.jobId,
      attempt: meta.attempt,
      created_at: new Date(meta.now).toISOString(),
      reason: meta.reason,
      files,
      total_bytes: files.reduce((a, f) => a + f.size, 0),
    };
    await this.blobs.putBytes(`${generation}/${MANIFEST}`, Buffer.from(JSON.stringify(manifest, null, 1)));
    return manifest;
  }

  /** Generations whose manifest exists and whose objects match it in size, newest first. */
  async verified(): Promise<Manifest[]> {
    const objects = await this.blobs.list("");
    const byGen = new Map<string, Map<string, number>>();
    for (const o of objects) {
      const slash = o.key.indexOf("/");
      if (slash < 0) continue;
      const gen = o.key.slice(0, slash);
      let m = byGen.get(gen);
      if (!m) byGen.set(gen, (m = new Map()));
      m.set(o.key.slice(slash + 1), o.size);
    }
    const gens = [...byGen.keys()]
      .filter((g) => byGen.get(g)?.has(MANIFEST))
      .sort()
      .reverse();
    const out: Manifest[] = [];
    for (const gen of gens) {
      const manifest = await this.readManifest(gen);
      if (!manifest) continue;
      const objs = byGen.get(gen) as Map<string, number>;
      if (manifest.files.every((f) => objs.get(`files/${f.path}`) === f.size)) out.push(manifest);
    }
    return out;
  }

  async latest(): Promise<Manifest | undefined> {
    return (await this.verified())[0];
  }

  private async readManifest(gen: string): Promise<Manifest | undefined> {
    const bytes = await this.blobs.getBytes(`${gen}/${MANIFEST}`);
    if (!bytes) return undefined;
    try {
      const m = JSON.parse(Buffer.from(bytes).toString("utf8")) as Manifest;
      return m.version === 1 && m.generation === gen && Array.isArray(m.files) ? m : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Download a generation into `localDir`, checking every sha256; the directory is swapped in
   * only once all files verify, so a failed restore leaves what was there.
   */
  async restore(manifest: Manifest, localDir: string): Promise<void> {
    const staging = `${localDir}.restore-${process.pid}`;
    await rm(staging, { recursive: true, force: true });
    await mkdir(staging, { recursive: true });
    await mapLimit(manifest.files, this.concurrency, async (f) => {
      const dest = join(staging, ...f.path.split("/"));
      await mkdir(join(dest, ".."), { recursive: true });
      await this.blobs.getFile(`${manifest.generation}/files/${f.path}`, dest);
      const got = await sha256File(dest);
      if (got !== f.sha256) throw new Error(`checkpoint ${manifest.generation}: ${f.path} sha256 mismatch`);
    });
    const old = `${localDir}.old-${process.pid}`;
    await rm(old, { recursive: true, force: true });
    await rename(localDir, old).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== "ENOENT") throw e;
    });
    await rename(staging, localDir);
    await rm(old, { recursive: true, force: true });
  }

  /** Restore the newest generation that verifies end to end, falling back to older ones. */
  async restoreLatest(localDir: string): Promise<Manifest | undefined> {
    for (const m of await this.verified()) {
      try {
        await this.restore(m, localDir);
        return m;
      } catch {
        // A corrupt object in this generation: the next older one may be whole.
      }
    }
    return undefined;
  }

  /** Keep the newest `keep` verified generations; remove older ones and torn leftovers older than them. */
  async prune(keep: number): Promise<string[]> {
    const verified = await this.verified();
    if (verified.length <= keep) return [];
    const oldestKept = verified[keep - 1]?.generation as string;
    const objects = await this.blobs.list("");
    const gens = new Set(objects.map((o) => o.key.split("/")[0] as string));
    const doomed = [...gens].filter((g) => g < oldestKept);
    for (const g of doomed) await this.blobs.deletePrefix(`${g}/`);
    return doomed;
  }
}
