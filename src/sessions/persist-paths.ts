import { lstat, mkdir, readdir, readlink, rename, rm, symlink } from "node:fs/promises";
import { dirname, join } from "node:path";

/** Where a persisted path lives on the instance and inside the volume. `~/x` → volume `home/x`; `/x` → `root/x`. */
export interface PersistMapping {
  spec: string;
  target: string;
  inVolume: string;
}

export function mapPersistPath(spec: string, home: string, volume: string): PersistMapping {
  if (spec.startsWith("~/")) return { spec, target: join(home, spec.slice(2)), inVolume: join(volume, "home", spec.slice(2)) };
  return { spec, target: spec, inVolume: join(volume, "root", spec.slice(1)) };
}

export type LinkOutcome = "linked" | "already" | "adopted";

/**
 * Put a persisted path in place as a symlink into the volume, before any agent starts. A real
 * directory already there (an image that ships it) is moved into an empty volume slot first, so
 * its contents are kept rather than hidden.
 */
export async function linkPersistPath(m: PersistMapping): Promise<LinkOutcome> {
  await mkdir(dirname(m.inVolume), { recursive: true });
  await mkdir(dirname(m.target), { recursive: true });
  const st = await lstat(m.target).catch(() => undefined);
  if (st?.isSymbolicLink()) {
    if ((await readlink(m.target)) === m.inVolume) {
      await mkdir(m.inVolume, { recursive: true });
      return "already";
    }
    await rm(m.target);
  }
  let outcome: LinkOutcome = "linked";
  if (st && !st.isSymbolicLink()) {
    const slotEmpty = await isEmptyOrMissing(m.inVolume);
    if (slotEmpty) {
      await rm(m.inVolume, { recursive: true, force: true });
      await rename(m.target, m.inVolume);
      outcome = "adopted";
    } else {
      // The volume wins: what the instance brought is set aside, never deleted.
      await rename(m.target, `${m.target}.spotrun-replaced-${Date.now()}`);
    }
  }
  await mkdir(m.inVolume, { recursive: true });
  await symlink(m.inVolume, m.target);
  return outcome;
}

async function isEmptyOrMissing(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length === 0;
  } catch {
    return true;
  }
}
