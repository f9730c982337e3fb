import { randomBytes } from "node:crypto";
import { errorMessage, SpotrunError, usageError } from "../base/errors.js";
import type { BlobStore, StoreFault } from "./blob-store.js";
import { openBlobStore, splitBucketUrl } from "./open-store.js";

/** Each request of the probe gives up after this long without an answer (the client retries it a few times). */
export const PROBE_TIMEOUT_MS = 10_000;

export interface ProbeOptions {
  /** Where the URL came from, for the message (`task.yaml: checkpoint.store`, `--store`). */
  where: string;
  /** Create the bucket when it is missing (`checkpoint.create_bucket` / `--create-bucket`). */
  createBucket?: boolean;
  /** The flag or field that asks for the bucket to be created, for the fix (none: creating it is left to the user). */
  createHint?: string;
  timeoutMs?: number;
}

/** What the probe found: the store takes writes; `created` when it made the bucket first. */
export interface ProbeResult {
  url: string;
  created: boolean;
}

/**
 * Prove, before a job is recorded, that the checkpoint store takes a write: put one small object
 * under the store's prefix and delete it again. A job whose every upload would fail would
 * otherwise run (and be billed) with nothing to resume from after a preemption. Only s3:// and
 * gs:// stores are probed: a file store is written by the controller's own host.
 */
export async function probeStore(url: string, opts: ProbeOptions): Promise<ProbeResult | undefined> {
  if (!url.startsWith("s3://") && !url.startsWith("gs://")) return undefined;
  const store = await openBlobStore(url, { timeoutMs: opts.timeoutMs ?? PROBE_TIMEOUT_MS });
  try {
    const first = await writeProbe(store);
    if (first === undefined) return { url, created: false };
    if (store.faultOf?.(first) !== "no_bucket" || !opts.createBucket || !store.createBucket)
      throw probeError(url, store, first, opts);
    let createFailure: unknown;
    await store.createBucket().catch((e: unknown) => {
      createFailure = e;
    });
    // A failed create may still leave a bucket we can write to (another submit made it meanwhile).
    const second = await writeProbe(store);
    if (second === undefined) return { url, created: createFailure === undefined };
    throw createError(url, createFailure ?? second, store.faultOf?.(createFailure ?? second) ?? "other", opts);
  } finally {
    store.close?.();
  }
}

/** undefined when a probe object went up and came down again; else what the store threw. */
async function writeProbe(store: BlobStore): Promise<unknown> {
  const key = `.spotrun-probe-${randomBytes(6).toString("hex")}`;
  try {
    await store.putBytes(key, Buffer.from("spotrun checks that this store takes writes; safe to delete\n"));
    await store.deletePrefix(key);
    return undefined;
  } catch (e) {
    return e ?? new Error("the store failed without an error");
  }
}

const causeCode = (e: unknown): string | undefined => {
  const x = e as { name?: unknown; code?: unknown };
  if (typeof x.code === "string" || typeof x.code === "number") return String(x.code);
  return typeof x.name === "string" && x.name !== "Error" ? x.name : undefined;
};

function probeError(url: string, store: BlobStore, e: unknown, opts: ProbeOptions): SpotrunError {
  const { bucket } = splitBucketUrl(url);
  const gs = url.startsWith("gs://");
  const fault: StoreFault = store.faultOf?.(e) ?? "other";
  const code = causeCode(e);
  const at = `${opts.where}: ${url}`;
  switch (fault) {
    case "no_bucket":
      return usageError(
        `${at}: bucket ${JSON.stringify(bucket)} does not exist`,
        `create it (${gs ? `gcloud storage buckets create gs://${bucket}` : `aws s3 mb s3://${bucket}`})${opts.createHint ? `, or let spotrun create it with ${opts.createHint}` : ""}`,
        code,
      );
    case "denied":
      return usageError(
        `${at}: writing to the store is refused`,
        gs
          ? "grant these credentials storage.objects.create, .delete and .list on the bucket, or use another store"
          : "grant these credentials s3:PutObject, s3:DeleteObject and s3:ListBucket on the bucket, or use another store",
        code,
      );
    case "no_credentials":
      return usageError(
        `${at}: no ${gs ? "Google Cloud" : "AWS"} credentials to check the store with`,
        gs
          ? "run `gcloud auth application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS"
          : "run `aws configure`, or set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY",
        code,
      );
    case "unreachable":
      return new SpotrunError("failed", `${at}: the store did not answer (${errorMessage(e)})`, {
        fix: "check the network and the endpoint, then retry",
        retryable: true,
        cause: e,
        ...(code ? { code } : {}),
      });
    default:
      return new SpotrunError("failed", `${at}: a test write failed: ${errorMessage(e)}`, {
        fix: "check the store URL and credentials, or use another checkpoint.store",
        cause: e,
        ...(code ? { code } : {}),
      });
  }
}

function createError(url: string, e: unknown, fault: StoreFault, opts: ProbeOptions): SpotrunError {
  const { bucket } = splitBucketUrl(url);
  const code = causeCode(e);
  const taken = code === "BucketAlreadyExists" || code === "409";
  if (taken)
    return usageError(
      `${opts.where}: bucket ${JSON.stringify(bucket)} could not be created: the name is taken by another account`,
      "choose another bucket name (bucket names are global)",
      code,
    );
  if (fault === "denied" || fault === "no_credentials")
    return usageError(
      `${opts.where}: bucket ${JSON.stringify(bucket)} could not be created: ${errorMessage(e)}`,
      url.startsWith("gs://")
        ? "create it yourself, or grant these credentials storage.buckets.create"
        : "create it yourself, or grant these credentials s3:CreateBucket",
      code,
    );
  return new SpotrunError("failed", `${opts.where}: bucket ${JSON.stringify(bucket)} could not be created: ${errorMessage(e)}`, {
    fix: "create it yourself, then submit again",
    retryable: fault === "unreachable",
    cause: e,
    ...(code ? { code } : {}),
  });
}
