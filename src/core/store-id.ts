import { randomBytes } from "node:crypto";
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { StateStore } from "../state/state-store.js";

/**
 * This state store's id, in every instance's tags, so the reaper never touches another store's
 * instances. A shared store keeps it in the database: every controller of a team tags alike, and
 * any of them may end what another launched and no live attempt owns.
 */
export async function storeIdOf(store: StateStore, home: string): Promise<string> {
  return store.shared ? store.ensureSetting("store_id", randomBytes(6).toString("hex")) : storeId(home);
}

/**
 * The id of a home's own (SQLite) store, kept in a file beside it. Controllers and commands started
 * at once on a fresh home race to make it: each writes a candidate to a file of its own and links
 * it into place, which only one link can do, and all read the one that won (never a half-written
 * file: the link appears with its content).
 */
export function storeId(home: string): string {
  const file = join(home, "store-id");
  const known = readId(file);
  if (known) return known;
  mkdirSync(home, { recursive: true });
  const candidate = `${file}.${process.pid}-${randomBytes(4).toString("hex")}`;
  writeFileSync(candidate, randomBytes(6).toString("hex"));
  try {
    linkSync(candidate, file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
  } finally {
    rmSync(candidate, { force: true });
  }
  return readFileSync(file, "utf8").trim();
}

function readId(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8").trim() || undefined;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}
