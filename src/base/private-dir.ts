import { chmodSync, closeSync, mkdirSync, openSync, statSync } from "node:fs";

/**
 * A directory only its owner may enter (0700): spotrun's home holds state.db, which carries the
 * tasks' envs. An existing one of ours that is open to others is tightened; one owned by someone
 * else is left alone (chmod would fail, and it is not ours to change).
 */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = statSync(dir);
  if ((st.mode & 0o077) !== 0 && st.uid === process.getuid?.()) chmodSync(dir, 0o700);
}

/** Create `file` if missing, readable and writable by its owner only (0600), and tighten it if it exists. */
export function ensurePrivateFile(file: string): void {
  closeSync(openSync(file, "a", 0o600));
  if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
}
