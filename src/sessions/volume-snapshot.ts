import { execFile } from "node:child_process";
import { rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { VOLUME_META_DIR } from "./volume.js";

const run = promisify(execFile);

/** The snapshot's name in $SPOT_CHECKPOINT_DIR; the agent uploads that directory as a generation. */
export const SNAPSHOT_FILE = "session.tar";

/**
 * Tar the whole volume into the checkpoint directory: written to a `.tmp` name (which the agent
 * never uploads) and renamed, so an upload sees the previous snapshot or this one, never half.
 * The volume's size record stays out: a restore into a disk of another size must not inherit it.
 */
export async function writeSnapshot(volume: string, checkpointDir: string): Promise<number> {
  const tmp = join(checkpointDir, `${SNAPSHOT_FILE}.${process.pid}.tmp`);
  try {
    await run("tar", ["-C", volume, `--exclude=./${VOLUME_META_DIR}/volume.json`, "-cf", tmp, "."], {
      maxBuffer: 16 * 1024 * 1024,
    });
    const { size } = await stat(tmp);
    await rename(tmp, join(checkpointDir, SNAPSHOT_FILE));
    return size;
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** Unpack the newest snapshot into the volume; undefined when there is none. */
export async function restoreSnapshot(checkpointDir: string, volume: string): Promise<number | undefined> {
  const file = join(checkpointDir, SNAPSHOT_FILE);
  const st = await stat(file).catch(() => undefined);
  if (!st) return undefined;
  await run("tar", ["-C", volume, "-xf", file], { maxBuffer: 16 * 1024 * 1024 });
  return st.size;
}
