import { Counter, type Registry } from "prom-client";
import type { ApiCall, ApiCallListener } from "../providers/api-calls.js";

const LABELS = ["provider", "region", "action"] as const;

/**
 * The cloud calls of this process's providers, as counters: unlike the job metrics (a view over
 * the store, the same from any process), these are what this process itself sent, fed by the
 * providers' ApiCall listener. Each attempt is one call; a throttled or failed one is also
 * counted in its own counter, so `rate(…throttles_total)` alerts without a label filter.
 */
export class ProviderApiMetrics {
  private readonly calls: Counter<"provider" | "region" | "action" | "outcome">;
  private readonly throttles: Counter<(typeof LABELS)[number]>;
  private readonly errors: Counter<(typeof LABELS)[number]>;

  constructor(registry: Registry) {
    this.calls = new Counter({
      name: "spotrun_provider_api_calls_total",
      help: "Requests spotrun sent to a provider's API (each attempt), by outcome: ok, throttled or error",
      labelNames: [...LABELS, "outcome"],
      registers: [registry],
    });
    this.throttles = new Counter({
      name: "spotrun_provider_api_throttles_total",
      help: "Requests the provider answered with throttling (RequestLimitExceeded, 429, rateLimitExceeded)",
      labelNames: LABELS,
      registers: [registry],
    });
    this.errors = new Counter({
      name: "spotrun_provider_api_errors_total",
      help: "Requests that failed for another reason than throttling (an error answer, a timeout, no connection)",
      labelNames: LABELS,
      registers: [registry],
    });
  }

  readonly observe: ApiCallListener = (c: ApiCall) => {
    const where = { provider: c.provider, region: c.region, action: c.action };
    this.calls.inc({ ...where, outcome: c.outcome });
    if (c.outcome === "throttled") this.throttles.inc(where);
    else if (c.outcome === "error") this.errors.inc(where);
  };

  /** Count every call these providers send from now on; returns the unsubscribe. */
  follow(providers: { onApiCall(listener: ApiCallListener): () => void }): () => void {
    return providers.onApiCall(this.observe);
  }
}
