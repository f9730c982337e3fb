import type { ServerResponse } from "node:http";
import { googleError, handleToken, type Received, RecordingServer, sendJson } from "./http-kit.js";

/**
 * Cloud Billing Catalog v1 REST (cloudbilling.googleapis.com), the SKU listing spotrun reads:
 * `GET /v1/services/{service}/skus?currencyCode=USD&pageSize=&pageToken=`, answered in pages of at
 * most `pageSize` SKUs with `nextPageToken`, as the API does. Prices are Money: `units` (an int64,
 * a string in JSON) plus `nanos`.
 */
export const BILLING_TOKEN = "billing-test-token";
export const COMPUTE_SERVICE_ID = "6F81-5844-456A";

export interface SkuSpec {
  description: string;
  usageType: "OnDemand" | "Preemptible" | "Commit1Yr";
  regions: string[];
  usd: number;
  unit: "h" | "GiBy.h";
  resourceGroup?: string;
}

export class BillingServer {
  readonly http: RecordingServer;
  skus: SkuSpec[] = [];
  /** Answer as for a project that never enabled the Cloud Billing API. */
  disabled = false;

  constructor(private readonly pageSize = 3) {
    this.http = new RecordingServer((req, res) => this.route(req, res));
  }

  async start(): Promise<this> {
    await this.http.start();
    return this;
  }

  close(): Promise<void> {
    return this.http.close();
  }

  private route(req: Received, res: ServerResponse): undefined {
    if (handleToken(req, res, BILLING_TOKEN)) return;
    if (req.headers.authorization !== `Bearer ${BILLING_TOKEN}`)
      return sendJson(
        res,
        401,
        googleError(401, "Request had invalid authentication credentials.", "authError", "UNAUTHENTICATED"),
      );
    if (this.disabled)
      return sendJson(
        res,
        403,
        googleError(
          403,
          "Cloud Billing API has not been used in project spotrun-test before or it is disabled.",
          "accessNotConfigured",
          "PERMISSION_DENIED",
        ),
      );
    const m = /^\/v1\/services\/([^/]+)\/skus$/.exec(req.path);
    if (req.method !== "GET" || !m)
      return sendJson(res, 404, googleError(404, `no route ${req.method} ${req.path}`, "notFound", "NOT_FOUND"));
    if (m[1] !== COMPUTE_SERVICE_ID)
      return sendJson(res, 404, googleError(404, `Service ${m[1]} not found`, "notFound", "NOT_FOUND"));
    const size = Math.min(Number(req.query.get("pageSize") || 5000), this.pageSize);
    const from = Number(req.query.get("pageToken") || 0);
    const page = this.skus.slice(from, from + size).map((s, i) => this.sku(s, from + i));
    const next = from + size < this.skus.length ? String(from + size) : "";
    return sendJson(res, 200, { skus: page, nextPageToken: next });
  }

  private sku(s: SkuSpec, i: number) {
    const id = `${(0xa000 + i).toString(16).toUpperCase()}-0000-0000`;
    const units = Math.floor(s.usd);
    return {
      name: `services/${COMPUTE_SERVICE_ID}/skus/${id}`,
      skuId: id,
      description: s.description,
      category: {
        serviceDisplayName: "Compute Engine",
        resourceFamily: "Compute",
        resourceGroup: s.resourceGroup ?? (s.unit === "h" ? "CPU" : "RAM"),
        usageType: s.usageType,
      },
      serviceRegions: s.regions,
      pricingInfo: [
        {
          summary: "",
          pricingExpression: {
            usageUnit: s.unit,
            displayQuantity: 1,
            tieredRates: [
              {
                startUsageAmount: 0,
                unitPrice: { currencyCode: "USD", units: String(units), nanos: Math.round((s.usd - units) * 1e9) },
              },
            ],
            usageUnitDescription: s.unit === "h" ? "hour" : "gibibyte hour",
            baseUnit: s.unit === "h" ? "s" : "By.s",
            baseUnitDescription: s.unit === "h" ? "second" : "byte second",
            baseUnitConversionFactor: s.unit === "h" ? 3600 : 3865470566400,
          },
          currencyConversionRate: 1,
          effectiveTime: "2026-11-23T00:00:00Z",
        },
      ],
      serviceProviderName: "Google",
    };
  }
}
