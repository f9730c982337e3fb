import { createReadStream, createWriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  CreateBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { type BlobInfo, type BlobStore, isUnreachable, type StoreFault } from "../blob-store.js";

/** A connection silent this long (no byte either way) is dead: the SDK drops it and retries the request. */
export const S3_IDLE_TIMEOUT_MS = 60_000;
const S3_CONNECT_TIMEOUT_MS = 5_000;

/**
 * The S3 client of a checkpoint store, from the standard AWS environment (credentials, region,
 * AWS_ENDPOINT_URL_S3). Its timeout is on silence, not on the whole request, so a large part
 * that keeps moving is never cut, while a request nobody answers is retried.
 */
export function s3ClientFromEnv(opts: { idleTimeoutMs?: number } = {}): S3Client {
  const idle = opts.idleTimeoutMs ?? S3_IDLE_TIMEOUT_MS;
  return new S3Client({
    region: process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? "us-east-1",
    // On an instance AWS_REGION is usually unset; a bucket elsewhere must still be reachable.
    followRegionRedirects: true,
    forcePathStyle:
      process.env.AWS_S3_FORCE_PATH_STYLE === "true" || Boolean(process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL),
    requestHandler: { socketTimeout: idle, connectionTimeout: Math.min(idle, S3_CONNECT_TIMEOUT_MS) },
  });
}

/**
 * S3 objects under `s3://bucket/prefix/`. Credentials, region and endpoint come from the
 * standard AWS chain (AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL for s3rver or MinIO).
 */
export class S3BlobStore implements BlobStore {
  readonly client: S3Client;
  constructor(
    readonly bucket: string,
    readonly prefix: string,
    client?: S3Client,
    private readonly partSize = 16 * 1024 * 1024,
    // Parts in flight per file; the generation protocol already uploads several files at once,
    // so this stays small to bound memory on small instances (16 MiB × 4 × files in parallel).
    private readonly queueSize = 4,
  ) {
    this.client = client ?? s3ClientFromEnv();
  }

  get url(): string {
    return `s3://${this.bucket}/${this.prefix}`;
  }

  private key(k: string): string {
    return this.prefix ? `${this.prefix}/${k}` : k;
  }

  async putFile(key: string, localPath: string): Promise<void> {
    // lib-storage splits large files into parts uploaded in parallel and aborts the upload on failure.
    await new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: this.key(key), Body: createReadStream(localPath) },
      partSize: this.partSize,
      queueSize: this.queueSize,
      leavePartsOnError: false,
    }).done();
  }

  async putBytes(key: string, data: Uint8Array): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.key(key), Body: data }));
  }

  async getFile(key: string, localPath: string): Promise<void> {
    const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
    await mkdir(dirname(localPath), { recursive: true });
    await pipeline(res.Body as Readable, createWriteStream(localPath));
  }

  async getBytes(key: string): Promise<Uint8Array | undefined> {
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
      return await (res.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray();
    } catch (e) {
      if (e instanceof NoSuchKey || (e as { name?: string }).name === "NoSuchKey") return undefined;
      throw e;
    }
  }

  async list(prefix: string): Promise<BlobInfo[]> {
    const out: BlobInfo[] = [];
    const base = this.prefix ? `${this.prefix}/` : "";
    let token: string | undefined;
    do {
      const res = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: base + prefix, ContinuationToken: token }),
      );
      for (const o of res.Contents ?? []) if (o.Key) out.push({ key: o.Key.slice(base.length), size: o.Size ?? 0 });
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  close(): void {
    this.client.destroy();
  }

  faultOf(e: unknown): StoreFault {
    const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
    if (err.name === "NoSuchBucket") return "no_bucket";
    if (err.name === "CredentialsProviderError") return "no_credentials";
    const status = err.$metadata?.httpStatusCode;
    if (err.name === "AccessDenied" || err.name === "InvalidAccessKeyId" || status === 403) return "denied";
    if (isUnreachable(e)) return "unreachable";
    return "other";
  }

  async createBucket(): Promise<void> {
    const region = await this.client.config.region();
    try {
      await this.client.send(
        new CreateBucketCommand({
          Bucket: this.bucket,
          // us-east-1 is the one region S3 refuses to be named in a location constraint.
          ...(region && region !== "us-east-1" ? { CreateBucketConfiguration: { LocationConstraint: region as never } } : {}),
        }),
      );
    } catch (e) {
      // Made by this account already (a race with another submit): it is there, which is all we asked.
      if ((e as { name?: string }).name !== "BucketAlreadyOwnedByYou") throw e;
    }
  }

  async deletePrefix(prefix: string): Promise<void> {
    const objs = await this.list(prefix);
    for (let i = 0; i < objs.length; i += 1000) {
      const res = await this.client.send(
        new DeleteObjectsCommand({
          Bucket: this.bucket,
          Delete: { Objects: objs.slice(i, i + 1000).map((o) => ({ Key: this.key(o.key) })), Quiet: true },
        }),
      );
      const failed = res.Errors ?? [];
      if (failed.length)
        throw new Error(
          `S3 delete of ${failed.length} object(s) under ${this.url}/${prefix} failed: ${failed[0]?.Code} ${failed[0]?.Key}`,
        );
    }
  }
}
