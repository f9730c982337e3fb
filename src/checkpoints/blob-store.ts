/**
 * The few object operations the generation protocol needs. Each checkpoint backend
 * (file, s3, gs) implements exactly these, in its own folder with the same file set.
 */
export interface BlobInfo {
  key: string;
  size: number;
}

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
}
