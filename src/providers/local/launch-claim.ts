import { readFileSync, writeFileSync } from "node:fs";
import { writeFileAtomic } from "../../base/atomic-file.js";

/**
 * A launch's claim on its idempotency token: the file `tokens/<token>` names the instance id the
 * token launches and the process launching it. It is created exclusively, so a second launch with
 * the token adopts the instance instead of making another. The pid tells a launch in progress
 * from one whose launcher died (kill -9) before the instance started, which is launched again
 * under the same id.
 */
export interface LaunchClaim {
  id: string;
  /** Absent in claims written before the pid was recorded. */
  pid?: number;
}

/** Claim `file` for `id`; false when the token is claimed already. */
export function claimToken(file: string, id: string): boolean {
  try {
    writeFileSync(file, `${id} ${process.pid}\n`, { flag: "wx" });
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw e;
  }
}

/** Take over an abandoned claim: same id, this process. */
export const reclaimToken = (file: string, claim: LaunchClaim): Promise<void> =>
  writeFileAtomic(file, `${claim.id} ${process.pid}\n`);

export function readClaim(file: string): LaunchClaim | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  const [id, pid] = text.trim().split(/\s+/);
  if (!id) return undefined;
  const n = Number(pid);
  return Number.isInteger(n) && n > 0 ? { id, pid: n } : { id };
}
