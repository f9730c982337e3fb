import type {
  DisksClient,
  GlobalOperationsClient,
  InstancesClient,
  RegionsClient,
  SnapshotsClient,
  ZoneOperationsClient,
} from "@google-cloud/compute";
import type { v2 } from "@google-cloud/tpu";

/**
 * The real Google clients the GCP provider talks through. They are built from Application Default
 * Credentials by default; a caller (or a test) may build them with its own options — an endpoint,
 * `fallback: true` for REST, a credentials file — and hand them in.
 */
export interface GcpClients {
  instances: InstancesClient;
  zoneOperations: ZoneOperationsClient;
  globalOperations: GlobalOperationsClient;
  disks: DisksClient;
  snapshots: SnapshotsClient;
  regions: RegionsClient;
  tpu: v2.TpuClient;
}

/** Options every Google client accepts (a subset of google-gax ClientOptions). */
export interface GcpClientOptions {
  apiEndpoint?: string;
  port?: number;
  protocol?: "http" | "https";
  /** `true`/`"rest"`: HTTP/1.1 + JSON instead of gRPC (Compute is REST-only anyway). */
  fallback?: boolean | "rest";
  keyFilename?: string;
  projectId?: string;
  /** Per-request time limit (default GCP_REQUEST_TIMEOUT_MS). */
  requestTimeoutMs?: number;
}

/**
 * Google's REST transport ignores the per-call timeout of its own config: a request nobody answers
 * waits forever. The auth client's HTTP transport (every API call goes through it) is given a time
 * limit instead; an expired request fails as AbortError, which gcp-errors counts as retryable.
 */
export const GCP_REQUEST_TIMEOUT_MS = 30_000;

const withTimeout = (opts: GcpClientOptions) => {
  const { requestTimeoutMs, ...rest } = opts;
  return { ...rest, clientOptions: { transporterOptions: { timeout: requestTimeoutMs ?? GCP_REQUEST_TIMEOUT_MS } } };
};

/** Build every client lazily, so `spotrun status` never loads the Google SDKs. */
export async function createGcpClients(opts: GcpClientOptions = {}): Promise<GcpClients> {
  const compute = await import("@google-cloud/compute");
  const tpu = await import("@google-cloud/tpu");
  const o = withTimeout(opts) as ConstructorParameters<typeof compute.InstancesClient>[0];
  return {
    instances: new compute.InstancesClient(o),
    zoneOperations: new compute.ZoneOperationsClient(o),
    globalOperations: new compute.GlobalOperationsClient(o),
    disks: new compute.DisksClient(o),
    snapshots: new compute.SnapshotsClient(o),
    regions: new compute.RegionsClient(o),
    tpu: new tpu.v2.TpuClient(o as ConstructorParameters<typeof tpu.v2.TpuClient>[0]),
  };
}

export async function closeGcpClients(c: GcpClients): Promise<void> {
  await Promise.all(
    [c.instances, c.zoneOperations, c.globalOperations, c.disks, c.snapshots, c.regions, c.tpu].map((x) => x.close()),
  );
}

/** The project as Google's libraries find it: GOOGLE_CLOUD_PROJECT, GCLOUD_PROJECT, then ADC. */
export async function resolveProject(c: GcpClients): Promise<string> {
  const fromEnv = process.env.GOOGLE_CLOUD_PROJECT ?? process.env.GCLOUD_PROJECT;
  if (fromEnv) return fromEnv;
  return c.instances.getProjectId();
}

/**
 * The Cloud Billing Catalog client, from Application Default Credentials. Its endpoint can be
 * overridden the way gcloud's is, with CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDBILLING (a proxy, an
 * emulator); over plain HTTP it speaks REST.
 */
export async function createCatalogClient(): Promise<import("@google-cloud/billing").CloudCatalogClient> {
  const { CloudCatalogClient } = await import("@google-cloud/billing");
  const override = process.env.CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDBILLING;
  if (!override) return new CloudCatalogClient(withTimeout({}) as ConstructorParameters<typeof CloudCatalogClient>[0]);
  const u = new URL(override);
  return new CloudCatalogClient(
    withTimeout({
      apiEndpoint: u.hostname,
      port: Number(u.port) || (u.protocol === "http:" ? 80 : 443),
      protocol: u.protocol === "http:" ? "http" : "https",
      fallback: true,
    }) as ConstructorParameters<typeof CloudCatalogClient>[0],
  );
}
