import { constants } from "node:fs";
import { access } from "node:fs/promises";
import { delimiter, join } from "node:path";

/** Where `name` would run from with this PATH, or undefined: the same lookup a shell does, without spawning one. */
export async function findOnPath(name: string, pathEnv = process.env.PATH ?? ""): Promise<string | undefined> {
  for (const dir of pathEnv.split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, name);
    try {
      await access(p, constants.X_OK);
      return p;
    } catch {}
  }
  return undefined;
}

/** The install line a person on this OS would type. */
export const installHint = (pkg: string, platform: NodeJS.Platform = process.platform): string =>
  platform === "darwin" ? `brew install ${pkg}` : `sudo apt-get install -y ${pkg}`;
