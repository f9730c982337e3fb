import { createHash } from "node:crypto";

/**
 * Names derived from the launch token, so a retried or restarted launch asks for the same
 * resource and adopts it instead of launching twice (Compute and TPU both refuse a duplicate
 * name with ALREADY_EXISTS).
 */
const digest = (s: string): string => createHash("sha256").update(s).digest("hex");

/** A Compute / TPU resource name: `[a-z]([-a-z0-9]{0,61}[a-z0-9])?`. */
export function resourceName(token: string, suffix = ""): string {
  const readable = token
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, "-")
    .replace(/-+/g, "-")
    .replace(/^-|-$/g, "");
  const tail = `-${digest(token).slice(0, 8)}${suffix ? `-${suffix}` : ""}`;
  let head = readable.slice(0, 63 - tail.length).replace(/-$/, "");
  if (!/^[a-z]/.test(head)) head = `s${head}`.slice(0, 63 - tail.length).replace(/-$/, "");
  return `${head}${tail}`;
}

/** Compute's `requestId`: a UUID, so the server itself dedupes a retried mutation for 60 minutes. */
export function requestIdOf(key: string): string {
  const h = digest(key);
  const v = ((Number.parseInt(h.slice(16, 17), 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${v}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
