import type { Clock } from "../base/clock.js";
import { importCloud, requireCloudSdk } from "../base/cloud-sdk.js";
import { usageError } from "../base/errors.js";
import type { Logger } from "../base/logger.js";
import type { ProviderKind } from "../spec/task-schema.js";
import type { ApiCallListener } from "./api-calls.js";
import type { CallBudget } from "./call-budget.js";
import type { Provider } from "./provider.js";

export interface ProviderOptions {
  home: string;
  logger: Logger;
  clock?: Clock;
  /** Told of every request the provider sends to its cloud (metrics). */
  onApiCall?: ApiCallListener;
  /** The call budget to draw from; default the one the whole process shares. */
  budget?: CallBudget;
}

/**
 * Provider modules load on first use: a job on `local` never pays for a cloud SDK's import, and
 * an install without the cloud SDKs (optionalDependencies) runs local jobs. Each import is named
 * in full so a bundler and a reader can both follow it.
 */
const MODULES: Record<ProviderKind, () => Promise<new (opts: ProviderOptions) => Provider>> = {
  local: async () => (await import("./local/local-provider.js")).LocalProvider,
  aws: () => importCloud("aws", "the aws provider", async () => (await import("./aws/aws-provider.js")).AwsProvider),
  gcp: () =>
    importCloud("gcp", "the gcp provider", async () => {
      // Its clients import the SDK on the first call; a missing one is refused here, at submit.
      requireCloudSdk("gcp", "the gcp provider", ["@google-cloud/compute", "@google-cloud/tpu"]);
      return (await import("./gcp/gcp-provider.js")).GcpProvider;
    }),
  vast: async () => (await import("./vast/vast-provider.js")).VastProvider,
};

export async function createProvider(kind: ProviderKind, opts: ProviderOptions): Promise<Provider> {
  const load = MODULES[kind];
  if (!load) throw usageError(`unknown provider ${kind}`, `use one of ${Object.keys(MODULES).join(", ")}`);
  const Ctor = await load();
  return new Ctor(opts);
}

/** One instance of each provider per process, so clients and connections are reused. */
export class ProviderCache {
  private readonly cache = new Map<ProviderKind, Promise<Provider>>();
  private readonly listeners = new Set<ApiCallListener>();
  constructor(private readonly opts: ProviderOptions) {
    if (opts.onApiCall) this.listeners.add(opts.onApiCall);
  }
  get(kind: ProviderKind): Promise<Provider> {
    let p = this.cache.get(kind);
    if (!p) {
      p = createProvider(kind, {
        ...this.opts,
        onApiCall: (call) => {
          for (const l of this.listeners) l(call);
        },
      });
      this.cache.set(kind, p);
    }
    return p;
  }
  /** Hear every API call of every provider this cache has made or will make (the controller's metrics); returns the unsubscribe. */
  onApiCall(listener: ApiCallListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  async closeAll(): Promise<void> {
    for (const p of this.cache.values()) await (await p.catch(() => undefined))?.close?.();
  }
}
