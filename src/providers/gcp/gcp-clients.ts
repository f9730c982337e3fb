import type {
  DisksClient,
  GlobalOperationsClient,
  InstancesClient,
  RegionsClient,
  SnapshotsClient,
  ZoneOperationsClient,
} from "@google-cloud/compute";
import type { v2 } from "@google-cloud/tpu";
import { importCloud } from "../../base/cloud-sdk.js";
import type { ApiCallMeter } from "../api-calls.js";
import type { CallClass } from "../call-budget.js";
import { gcpErrorInfo, isThrottle } from "./gcp-errors.js";

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
  const compute = await importCloud("gcp", "the gcp provider", () => import("@google-cloud/compute"));
  const tpu = await importCloud("gcp", "the gcp provider", () => import("@google-cloud/tpu"));
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

/** The budget's scope for Google Cloud: Compute's rate quotas are per project and minute, whatever the region. */
export const GCP_SCOPE = "global";

type ApiCallFn = (request: unknown, options?: unknown, callback?: unknown) => unknown;
interface GapicClient {
  initialize(): Promise<unknown>;
  innerApiCalls: Record<string, ApiCallFn>;
}
const BUDGETED = Symbol("spotrun.budgeted");

/** Google's reads (get, list, aggregatedList, an operation's wait or poll) and everything else, which changes something. */
export const gcpCallClass = (method: string): CallClass =>
  /^(get|list|aggregatedList|wait|testIamPermissions)/.test(method) ? "read" : "write";

/**
 * Put every call of these clients on the provider's budget. Each generated client sends each of its
 * methods through one function per method (`innerApiCalls`, made once by `initialize`): a plain
 * call, each page of a listing (`…Async` iterates page by page through it) and each poll of a TPU
 * operation (its operations client has the same shape) take a token, and their answers are counted
 * as `instances.aggregatedList`, `tpu.getQueuedResource`, …. Retries inside the library are one call.
 */
export function budgetGcpClients(c: GcpClients, meter: ApiCallMeter): void {
  const services: [string, unknown][] = [
    ["instances", c.instances],
    ["zoneOperations", c.zoneOperations],
    ["globalOperations", c.globalOperations],
    ["disks", c.disks],
    ["snapshots", c.snapshots],
    ["regions", c.regions],
    ["tpu", c.tpu],
    ["tpuOperations", (c.tpu as unknown as { operationsClient?: unknown }).operationsClient],
  ];
  for (const [service, client] of services) if (client) budgetClient(service, client as GapicClient, meter);
}

function budgetClient(service: string, client: GapicClient, meter: ApiCallMeter): void {
  const marked = client as unknown as Record<symbol, boolean>;
  if (marked[BUDGETED]) return;
  marked[BUDGETED] = true;
  // The stub itself is made lazily (and its failure surfaces on the first call, as before).
  if (typeof client.initialize === "function") client.initialize().catch(() => undefined);
  const calls = client.innerApiCalls ?? {};
  for (const [method, inner] of Object.entries(calls)) {
    const action = `${service}.${method}`;
    const cls = gcpCallClass(method);
    calls[method] = (request, options, callback) => {
      // spotrun never passes callbacks; a caller that does is not budgeted rather than broken.
      if (typeof callback === "function") return inner(request, options, callback);
      return (async () => {
        const done = await meter.start(GCP_SCOPE, action, cls);
        try {
          const out = await inner(request, options);
          done("ok");
          return out;
        } catch (e) {
          done(isThrottle(gcpErrorInfo(e)) ? "throttled" : "error");
          throw e;
        }
      })();
    };
  }
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
  const { CloudCatalogClient } = await importCloud("gcp", "the GCP price catalog", () => import("@google-cloud/billing"));
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
