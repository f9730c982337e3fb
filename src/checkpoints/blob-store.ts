/**
 * The few object operations the generation protocol needs. Each checkpoint backend
 * (file, s3, gs) implements exactly these, in its own folder with the same file set.
 */
export interface BlobInfo {
  key: string;
  size: number;
}

/**
 * What a failed call says about the store as a whole, where the backend can tell from the error's
 * type or status (never its text): the bucket is missing, access is refused, no credentials were
 * found, the endpoint did not answer. Anything else is `other`.
 */
export type StoreFault = "no_bucket" | "denied" | "no_credentials" | "unreachable" | "other";

export interface BlobStore {
  /** e.g. `file:///var/ckpt/j-1`, `s3://bucket/prefix/j-1`. */
  readonly url: string;
  /** Upload a local file to `key` (streamed; large files in parallel parts where the backend can). */
  putFile(key: string, localPath: string): Promise<void>;
  putBytes(key: string, data: Uint8Array): Promise<void>;
  /** Download `key` to a local file; throws if missing. */
  getFile(key: string, localPath: string): Promise<void>;
  getBytes(key: string): Promise<Uint8Array | undefined>;
  /** Every object under `prefix` (recursive). */
  list(prefix: string): Promise<BlobInfo[]>;
  deletePrefix(prefix: string): Promise<void>;
  /** What `e`, thrown by one of the calls above, says about the store (cloud backends). */
  faultOf?(e: unknown): StoreFault;
  /** Create the bucket this store lives in (cloud backends; only when the task asks for it). */
  createBucket?(): Promise<void>;
  /** Let go of the client's connections (a short-lived store, such as the one submit probes). */
  close?(): void;
}

/** Node's errno codes of a connection that never got an answer. */
const UNREACHABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
]);

/** A socket-level failure (no answer at all), from the errno code on the error or its cause. */
export function isUnreachable(e: unknown): boolean {
  for (let x = e as { code?: unknown; cause?: unknown; name?: unknown } | undefined, i = 0; x && i < 4; i++) {
    if (typeof x.code === "string" && UNREACHABLE_CODES.has(x.code)) return true;
    if (x.name === "TimeoutError") return true;
    x = x.cause as typeof x;
  }
  return false;
}
