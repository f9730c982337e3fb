import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { importCloud } from "../base/cloud-sdk.js";
import { usageError } from "../base/errors.js";
import type { BlobStore } from "./blob-store.js";
import { bucketNameProblem } from "./bucket-name.js";
import { FileBlobStore } from "./file/file-blob-store.js";
import { CheckpointStore } from "./generations.js";

/**
 * `file:///dir`, `s3://bucket/prefix`, `gs://bucket/prefix` (or a bare path) → a blob store.
 * Cloud backends are imported only when used, so the agent starts fast and needs no SDK it doesn't use.
 */
export async function openBlobStore(url: string, opts: { timeoutMs?: number } = {}): Promise<BlobStore> {
  if (url.startsWith("file://")) return new FileBlobStore(fileURLToPath(url));
  if (url.startsWith("s3://")) {
    const { bucket, prefix } = splitBucketUrl(url);
    const { S3BlobStore, s3ClientFromEnv } = await importCloud(
      "aws",
      "an s3:// checkpoint store",
      () => import("./s3/s3-blob-store.js"),
    );
    const client = opts.timeoutMs === undefined ? undefined : s3ClientFromEnv({ idleTimeoutMs: opts.timeoutMs });
    return new S3BlobStore(bucket, prefix, client);
  }
  if (url.startsWith("gs://")) {
    const { bucket, prefix } = splitBucketUrl(url);
    const { GcsBlobStore, gcsStorageFromEnv } = await importCloud(
      "gcp",
      "a gs:// checkpoint store",
      () => import("./gs/gcs-blob-store.js"),
    );
    const storage = opts.timeoutMs === undefined ? undefined : gcsStorageFromEnv({ timeoutMs: opts.timeoutMs });
    return new GcsBlobStore(bucket, prefix, storage);
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//.test(url))
    throw usageError(`unsupported checkpoint store ${url}`, "use file:///path, s3://bucket/prefix or gs://bucket/prefix");
  return new FileBlobStore(resolve(url));
}

export function splitBucketUrl(url: string): { bucket: string; prefix: string } {
  const scheme = url.startsWith("gs://") ? "gs" : "s3";
  const rest = url.replace(/^[a-z0-9]+:\/\//, "");
  const slash = rest.indexOf("/");
  const bucket = slash < 0 ? rest : rest.slice(0, slash);
  const prefix = slash < 0 ? "" : rest.slice(slash + 1).replace(/\/+$/, "");
  if (!bucket) throw usageError(`checkpoint store ${url} has no bucket`, `write it as ${scheme}://bucket/prefix`);
  const problem = bucketNameProblem(scheme, bucket);
  if (problem)
    throw usageError(`checkpoint store ${url}: bucket ${JSON.stringify(bucket)} is not valid: ${problem}`, "fix the bucket name");
  return { bucket, prefix };
}

/** A store URL checked without opening it: its scheme, and for s3/gs the bucket name; `where` names the field. */
export function checkStoreUrl(url: string, where: string): void {
  const fix = `fix ${where.replace(/^.*: /, "")}`;
  if (url.startsWith("s3://") || url.startsWith("gs://")) {
    const scheme = url.startsWith("gs://") ? "gs" : "s3";
    const bucket = url.slice(5).split("/")[0] ?? "";
    if (!bucket) throw usageError(`${where}: ${url} has no bucket`, `write it as ${scheme}://bucket/prefix`);
    const problem = bucketNameProblem(scheme, bucket);
    if (problem) throw usageError(`${where}: bucket ${JSON.stringify(bucket)} is not valid: ${problem}`, fix);
  } else if (/^[a-z][a-z0-9+.-]*:\/\//.test(url) && !url.startsWith("file://"))
    throw usageError(`${where}: unsupported store ${url}`, "use file:///path, s3://bucket/prefix or gs://bucket/prefix");
}

/** The store of one job: the task's store URL with the job id appended. */
export function jobStoreUrl(base: string, jobId: string): string {
  return `${base.replace(/\/+$/, "")}/${jobId}`;
}

export async function openCheckpointStore(url: string): Promise<CheckpointStore> {
  return new CheckpointStore(await openBlobStore(url));
}
