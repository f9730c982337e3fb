import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../../base/atomic-file.js";

/**
 * Which region each instance spotrun launched lives in. EC2 instance ids are regional, and the
 * Provider interface hands `describe`/`terminate` bare ids; a controller restarted in another
 * process must still find an instance a task placed outside the default region. Kept in
 * `<home>/aws/instance-regions.json`; entries older than `ttlMs` are dropped.
 */
type Entry = { region: string; at: number };

export class InstanceRegions {
  readonly path: string;
  constructor(
    home: string,
    private readonly ttlMs = 30 * 86_400_000,
  ) {
    this.path = join(home, "aws", "instance-regions.json");
  }

  private async load(): Promise<Record<string, Entry>> {
    try {
      const parsed = JSON.parse(await readFile(this.path, "utf8")) as Record<string, Entry>;
      return parsed && typeof parsed === "object" ? parsed : {};
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT" || e instanceof SyntaxError) return {};
      throw e;
    }
  }

  async remember(ids: string[], region: string, now: number): Promise<void> {
    if (ids.length === 0) return;
    const all = await this.load();
    for (const id of ids) all[id] = { region, at: now };
    for (const [id, e] of Object.entries(all)) if (now - e.at > this.ttlMs) delete all[id];
    await writeFileAtomic(this.path, `${JSON.stringify(all)}\n`);
  }

  /** Region per id, where known. */
  async lookup(ids: string[]): Promise<Map<string, string>> {
    const all = await this.load();
    return new Map(ids.filter((id) => all[id]).map((id) => [id, (all[id] as Entry).region]));
  }

  async regions(): Promise<string[]> {
    return [...new Set(Object.values(await this.load()).map((e) => e.region))].sort();
  }
}
