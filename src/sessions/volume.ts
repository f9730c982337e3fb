import { lstat, mkdir, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../base/atomic-file.js";

/** Bookkeeping the volume carries about itself, so it travels with the data (and with a re-attached disk). */
export const VOLUME_META_DIR = ".spotrun";
const metaFile = (volume: string) => join(volume, VOLUME_META_DIR, "volume.json");
const agentsFile = (volume: string) => join(volume, VOLUME_META_DIR, "agents-started.json");

export interface VolumeMeta {
  session: string;
  size_bytes: number;
  created_at: number;
}

/** On `local`: a directory beside, never inside, any instance disk. */
export const localVolumeDir = (home: string, session: string): string => join(home, "volumes", session);

export async function readVolumeMeta(volume: string): Promise<VolumeMeta | undefined> {
  try {
    return JSON.parse(await readFile(metaFile(volume), "utf8")) as VolumeMeta;
  } catch {
    return undefined;
  }
}

export async function writeVolumeMeta(volume: string, meta: VolumeMeta): Promise<void> {
  await mkdir(join(volume, VOLUME_META_DIR), { recursive: true });
  await writeFileAtomic(metaFile(volume), JSON.stringify(meta, null, 1));
}

/** Bytes used under `dir` (apparent sizes, symlinks not followed), like `du -sb`. */
export async function usedBytes(dir: string): Promise<number> {
  let total = 0;
  const visit = async (d: string) => {
    let entries: import("node:fs").Dirent[];
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) await visit(p);
      else if (e.isFile()) total += (await lstat(p).catch(() => undefined))?.size ?? 0;
    }
  };
  const st = await lstat(dir).catch(() => undefined);
  if (st?.isFile()) return st.size;
  await visit(dir);
  return total;
}

/** A volume with nothing but its own bookkeeping: a new disk, or one in a zone the data never reached. */
export async function isFreshVolume(volume: string): Promise<boolean> {
  try {
    return (await readdir(volume)).every((n) => n === VOLUME_META_DIR);
  } catch {
    return true;
  }
}

/** Agents that have started on this volume before: they resume, the others start fresh. */
export async function startedAgents(volume: string): Promise<Set<string>> {
  try {
    return new Set(JSON.parse(await readFile(agentsFile(volume), "utf8")) as string[]);
  } catch {
    return new Set();
  }
}

export async function recordStartedAgents(volume: string, names: Iterable<string>): Promise<void> {
  await mkdir(join(volume, VOLUME_META_DIR), { recursive: true });
  await writeFileAtomic(agentsFile(volume), JSON.stringify([...new Set(names)].sort()));
}

/** When usage crosses this share of the size, the supervisor and `session start` warn. */
export const FILL_WARNING = 0.8;
