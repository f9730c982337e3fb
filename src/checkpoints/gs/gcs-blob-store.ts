import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { IdempotencyStrategy, RETRYABLE_ERR_FN_DEFAULT, Storage } from "@google-cloud/storage";
import { type BlobInfo, type BlobStore, isUnreachable, type StoreFault } from "../blob-store.js";

/** Per-request limit: an upload or read that gets no answer this long fails (and is retried by the library). */
export const GCS_REQUEST_TIMEOUT_MS = 60_000;

/**
 * The Storage client of a checkpoint store: Application Default Credentials, STORAGE_EMULATOR_HOST,
 * a time limit. Every write here may be repeated (the same bytes to the same name: generations are
 * never rewritten with other content), so the library retries writes too, not only reads.
 */
export function gcsStorageFromEnv(opts: { timeoutMs?: number } = {}): Storage {
  return new Storage({
    timeout: opts.timeoutMs ?? GCS_REQUEST_TIMEOUT_MS,
    retryOptions: {
      autoRetry: true,
      maxRetries: 3,
      idempotencyStrategy: IdempotencyStrategy.RetryAlways,
      // The library's own test misses its own time limit (a FetchError of type request-timeout).
      retryableErrorFn: (err) => RETRYABLE_ERR_FN_DEFAULT(err) || (err as { type?: unknown }).type === "request-timeout",
    },
  });
}

/**
 * GCS objects under `gs://bucket/prefix/`. Credentials and project come from Application
 * Default Credentials; STORAGE_EMULATOR_HOST points the client at an emulator or test server.
 */
export class GcsBlobStore implements BlobStore {
  readonly storage: Storage;
  constructor(
    readonly bucket: string,
    readonly prefix: string,
    storage?: Storage,
  ) {
    this.storage = storage ?? gcsStorageFromEnv();
  }

  get url(): string {
    return `gs://${this.bucket}/${this.prefix}`;
  }

  private key(k: string): string {
    return this.prefix ? `${this.prefix}/${k}` : k;
  }

  async putFile(key: string, localPath: string): Promise<void> {
    await this.storage.bucket(this.bucket).upload(localPath, { destination: this.key(key), resumable: false });
  }

  async putBytes(key: string, data: Uint8Array): Promise<void> {
    await this.storage.bucket(this.bucket).file(this.key(key)).save(Buffer.from(data), { resumable: false });
  }

  async getFile(key: string, localPath: string): Promise<void> {
    await mkdir(dirname(localPath), { recursive: true });
    await this.storage.bucket(this.bucket).file(this.key(key)).download({ destination: localPath });
  }

  async getBytes(key: string): Promise<Uint8Array | undefined> {
    try {
      const [buf] = await this.storage.bucket(this.bucket).file(this.key(key)).download();
      return buf;
    } catch (e) {
      if ((e as { code?: number }).code === 404) return undefined;
      throw e;
    }
  }

  async list(prefix: string): Promise<BlobInfo[]> {
    const base = this.prefix ? `${this.prefix}/` : "";
    const [files] = await this.storage.bucket(this.bucket).getFiles({ prefix: base + prefix, autoPaginate: true });
    return files.map((f) => ({ key: f.name.slice(base.length), size: Number(f.metadata.size ?? 0) }));
  }

  faultOf(e: unknown): StoreFault {
    const code = (e as { code?: unknown }).code;
    // An upload of a new object answers 404 only when its bucket is missing.
    if (code === 404) return "no_bucket";
    if (code === 401 || code === 403) return "denied";
    if (isUnreachable(e)) return "unreachable";
    return "other";
  }

  /** In the client's project (Application Default Credentials or GOOGLE_CLOUD_PROJECT). */
  async createBucket(): Promise<void> {
    await this.storage.createBucket(this.bucket);
  }

  async deletePrefix(prefix: string): Promise<void> {
    const base = this.prefix ? `${this.prefix}/` : "";
    await this.storage.bucket(this.bucket).deleteFiles({ prefix: base + prefix, force: true });
  }
}
