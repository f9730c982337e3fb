import { type Filter, GetProductsCommand, PricingClient } from "@aws-sdk/client-pricing";
import type { Clock } from "../../base/clock.js";
import { toProviderError } from "./aws-error.js";
import { awsRequestHandler } from "./ec2-client.js";
import type { OnDemandCatalog } from "./on-demand-catalog.js";
import { JitterRetryStrategy } from "./retry-strategy.js";

/**
 * Builds the on-demand catalog from the AWS Price List Query API (GetProducts, service
 * AmazonEC2): Linux, shared tenancy, no pre-installed software, capacity status Used — the
 * product a plain RunInstances buys. The API lives in a few regions only; us-east-1 serves all.
 */
export const PRICING_REGION = "us-east-1";

export function createPricingClient(clock?: Clock): PricingClient {
  return new PricingClient({
    region: PRICING_REGION,
    maxAttempts: 6,
    retryStrategy: new JitterRetryStrategy(undefined, clock),
    requestHandler: awsRequestHandler(),
  });
}

interface PriceListProduct {
  product?: { attributes?: Record<string, string> };
  terms?: { OnDemand?: Record<string, { priceDimensions?: Record<string, { unit?: string; pricePerUnit?: { USD?: string } }> }> };
}

/** Entries arrive as JSON text (the protocol) or already decoded, depending on the SDK version. */
function decode(entry: unknown): PriceListProduct {
  if (typeof entry === "string") return JSON.parse(entry) as PriceListProduct;
  if (entry && typeof entry === "object" && "product" in entry) return entry as PriceListProduct;
  return JSON.parse(String(entry)) as PriceListProduct;
}

/** USD per hour of the product's on-demand term, if it has exactly the hourly dimension we expect. */
export function hourlyUsd(p: PriceListProduct): number | undefined {
  for (const term of Object.values(p.terms?.OnDemand ?? {}))
    for (const dim of Object.values(term.priceDimensions ?? {})) {
      const usd = Number(dim.pricePerUnit?.USD);
      if (dim.unit === "Hrs" && Number.isFinite(usd) && usd > 0) return usd;
    }
  return undefined;
}

export async function fetchOnDemandCatalog(
  pricing: PricingClient,
  regions: string[],
  types: (region: string) => string[],
  now: number,
): Promise<OnDemandCatalog> {
  const prices: Record<string, Record<string, number>> = {};
  for (const region of regions) {
    const wanted = types(region);
    if (wanted.length === 0) continue;
    const filters: Filter[] = [
      { Type: "TERM_MATCH", Field: "regionCode", Value: region },
      { Type: "TERM_MATCH", Field: "operatingSystem", Value: "Linux" },
      { Type: "TERM_MATCH", Field: "tenancy", Value: "Shared" },
      { Type: "TERM_MATCH", Field: "preInstalledSw", Value: "NA" },
      { Type: "TERM_MATCH", Field: "capacitystatus", Value: "Used" },
      { Type: "ANY_OF", Field: "instanceType", Value: wanted.join(",") },
    ];
    let token: string | undefined;
    const got: Record<string, number> = {};
    do {
      let res: { PriceList?: unknown[]; NextToken?: string };
      try {
        res = await pricing.send(
          new GetProductsCommand({
            ServiceCode: "AmazonEC2",
            FormatVersion: "aws_v1",
            Filters: filters,
            MaxResults: 100,
            NextToken: token,
          }),
        );
      } catch (e) {
        throw toProviderError(e, "pricing:GetProducts");
      }
      for (const entry of res.PriceList ?? []) {
        const p = decode(entry);
        const type = p.product?.attributes?.instanceType;
        const usd = hourlyUsd(p);
        if (type && usd !== undefined && wanted.includes(type)) got[type] = usd;
      }
      token = res.NextToken;
    } while (token);
    prices[region] = Object.fromEntries(Object.entries(got).sort(([a], [b]) => (a < b ? -1 : 1)));
  }
  return {
    provider: "aws",
    currency: "USD",
    source: `AWS Price List Query API (GetProducts, AmazonEC2, Linux, Shared, preInstalledSw NA, capacitystatus Used) via spotrun catalog update`,
    retrieved_at: new Date(now).toISOString(),
    prices,
  };
}
