import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
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

/** The id of a home's own (SQLite) store, kept in a file beside it. */
export function storeId(home: string): string {
  const file = join(home, "store-id");
  try {
    return readFileSync(file, "utf8").trim();
  } catch {
    mkdirSync(home, { recursive: true });
    const id = randomBytes(6).toString("hex");
    writeFileSync(file, id, { flag: "wx" });
    return id;
  }
}
