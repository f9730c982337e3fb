import { SpotrunError } from "./errors.js";

/**
 * The npm packages of each cloud's SDK. They are optionalDependencies: `npm install spotrun
 * --omit=optional` is a local-only install (the local provider and file:// checkpoints), and the
 * first use of a cloud without its SDK is one line naming what to install.
 */
export const CLOUD_SDKS = {
  aws: ["@aws-sdk/client-ec2", "@aws-sdk/client-pricing", "@aws-sdk/client-s3", "@aws-sdk/lib-storage"],
  gcp: ["@google-cloud/compute", "@google-cloud/tpu", "@google-cloud/storage", "@google-cloud/billing"],
} as const;
export type Cloud = keyof typeof CLOUD_SDKS;

/**
 * The package a failed import could not find. Node says it only in the message (the code,
 * ERR_MODULE_NOT_FOUND or MODULE_NOT_FOUND, is shared with a missing file of our own).
 */
export function missingPackage(e: unknown): string | undefined {
  const err = e as { code?: unknown; message?: unknown } | undefined;
  if (err?.code !== "ERR_MODULE_NOT_FOUND" && err?.code !== "MODULE_NOT_FOUND") return undefined;
  const m = /Cannot find (?:package|module) '((?:@[^/']+\/)?[^/']+)/.exec(String(err.message));
  return m?.[1];
}

const notInstalled = (cloud: Cloud, what: string, missing: string, cause?: unknown) =>
  new SpotrunError("usage", `${what} needs ${missing}, which is not installed (the cloud SDKs are optional)`, {
    fix: `npm install ${CLOUD_SDKS[cloud].join(" ")}`,
    ...(cause === undefined ? {} : { cause }),
  });

/**
 * Refuse at once when a package a cloud's code imports only later (on its first API call) is
 * missing: a job is refused at submit rather than failed at launch. Resolving is cheap; the
 * SDK itself is not loaded here.
 */
export function requireCloudSdk(cloud: Cloud, what: string, packages: readonly string[]): void {
  // Node 20 before 20.6 has no synchronous import.meta.resolve: the first call says it instead.
  if (typeof import.meta.resolve !== "function") return;
  for (const p of packages) {
    try {
      import.meta.resolve(p);
    } catch (e) {
      if (missingPackage(e) === p) throw notInstalled(cloud, what, p, e);
      throw e;
    }
  }
}

/** Import a cloud's code (`what` uses it: "the aws provider", "an s3:// checkpoint store"); a missing SDK is a one-line usage error. */
export async function importCloud<T>(cloud: Cloud, what: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (e) {
    const missing = missingPackage(e);
    if (!missing || !(CLOUD_SDKS[cloud] as readonly string[]).includes(missing)) throw e;
    throw notInstalled(cloud, what, missing, e);
  }
}
