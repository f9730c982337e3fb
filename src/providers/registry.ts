import type { Clock } from "../base/clock.js";
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

type ProviderModule = Record<string, new (opts: ProviderOptions) => Provider>;

/** Provider modules load on first use: a job on `local` never pays for a cloud SDK's import. */
const MODULES: Record<ProviderKind, { path: string; exportName: string }> = {
  local: { path: "./local/local-provider.js", exportName: "LocalProvider" },
  aws: { path: "./aws/aws-provider.js", exportName: "AwsProvider" },
  gcp: { path: "./gcp/gcp-provider.js", exportName: "GcpProvider" },
  vast: { path: "./vast/vast-provider.js", exportName: "VastProvider" },
};

export async function createProvider(kind: ProviderKind, opts: ProviderOptions): Promise<Provider> {
  const entry = MODULES[kind];
  if (!entry) throw usageError(`unknown provider ${kind}`, `use one of ${Object.keys(MODULES).join(", ")}`);
  const mod = (await import(entry.path)) as ProviderModule;
  const Ctor = mod[entry.exportName];
  if (!Ctor) throw new Error(`provider module ${entry.path} has no ${entry.exportName}`);
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
