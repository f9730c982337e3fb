import { readdirSync, readFileSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../base/atomic-file.js";
import { notFound } from "../base/errors.js";
import type { JobId } from "../base/ids.js";
import type { SessionFile } from "./session-schema.js";

/** What spotrun remembers about a session: its spec, and every job it has run as (one per start or resume). */
export interface SessionRecord {
  version: 1;
  name: string;
  created_at: number;
  file: string | null;
  base_dir: string;
  session: SessionFile;
  job_ids: JobId[];
}

export const sessionDir = (home: string, name: string): string => join(home, "sessions", name);
const recordFile = (home: string, name: string) => join(sessionDir(home, name), "session.json");

/** On `local` the tmux socket lives here: outside every instance, the same path after each recovery. */
export const localTmuxSocket = (home: string, name: string): string => join(sessionDir(home, name), "tmux.sock");

export function readSession(home: string, name: string): SessionRecord | undefined {
  try {
    return JSON.parse(readFileSync(recordFile(home, name), "utf8")) as SessionRecord;
  } catch {
    return undefined;
  }
}

export function requireSession(home: string, name: string): SessionRecord {
  const s = readSession(home, name);
  if (!s) throw notFound(`no session ${name}`, "list sessions with `spotrun session list`");
  return s;
}

export async function writeSession(home: string, rec: SessionRecord): Promise<void> {
  await mkdir(sessionDir(home, rec.name), { recursive: true });
  await writeFileAtomic(recordFile(home, rec.name), JSON.stringify(rec, null, 1));
}

export async function removeSession(home: string, name: string): Promise<void> {
  await rm(sessionDir(home, name), { recursive: true, force: true });
}

export function listSessions(home: string): SessionRecord[] {
  let names: string[];
  try {
    names = readdirSync(join(home, "sessions"));
  } catch {
    return [];
  }
  return names
    .sort()
    .map((n) => readSession(home, n))
    .filter((s): s is SessionRecord => s !== undefined);
}
