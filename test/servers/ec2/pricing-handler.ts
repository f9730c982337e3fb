/**
 * The AWS Price List Query API (`AWSPriceListService.GetProducts`), JSON 1.1 protocol: the body
 * is JSON, the operation is named in `X-Amz-Target`, and each PriceList entry is itself a JSON
 * document as a string.
 */
export interface PricedProduct {
  instanceType: string;
  regionCode: string;
  usdPerHour: number;
  operatingSystem?: string;
  tenancy?: string;
  preInstalledSw?: string;
  capacitystatus?: string;
}

export interface JsonAnswer {
  status: number;
  body: unknown;
}

const fault = (type: string, message: string, status = 400): JsonAnswer => ({ status, body: { __type: type, Message: message } });

export function priceListDocument(p: PricedProduct, i: number): string {
  const sku = `SKU${String(i).padStart(6, "0")}TEST`;
  const attributes = {
    servicecode: "AmazonEC2",
    instanceType: p.instanceType,
    regionCode: p.regionCode,
    operatingSystem: p.operatingSystem ?? "Linux",
    tenancy: p.tenancy ?? "Shared",
    preInstalledSw: p.preInstalledSw ?? "NA",
    capacitystatus: p.capacitystatus ?? "Used",
    licenseModel: "No License required",
  };
  return JSON.stringify({
    product: { productFamily: "Compute Instance", attributes, sku },
    serviceCode: "AmazonEC2",
    terms: {
      OnDemand: {
        [`${sku}.JRTCKXETXF`]: {
          offerTermCode: "JRTCKXETXF",
          sku,
          effectiveDate: "2026-11-01T00:00:00Z",
          priceDimensions: {
            [`${sku}.JRTCKXETXF.6YS6EN2CT7`]: {
              unit: "Hrs",
              endRange: "Inf",
              description: `$${p.usdPerHour} per On Demand Linux ${p.instanceType} Instance Hour`,
              appliesTo: [],
              rateCode: `${sku}.JRTCKXETXF.6YS6EN2CT7`,
              beginRange: "0",
              pricePerUnit: { USD: p.usdPerHour.toFixed(10) },
            },
          },
          termAttributes: {},
        },
      },
    },
    version: "20261101000000",
    publicationDate: "2026-11-01T00:00:00Z",
  });
}

export function handlePricing(target: string, body: unknown, products: PricedProduct[], pageSize: number): JsonAnswer {
  if (target !== "AWSPriceListService.GetProducts") return fault("UnknownOperationException", `unknown operation ${target}`);
  const req = body as {
    ServiceCode?: string;
    Filters?: { Type: string; Field: string; Value: string }[];
    NextToken?: string;
    MaxResults?: number;
  };
  if (req.ServiceCode !== "AmazonEC2") return fault("InvalidParameterException", `unsupported ServiceCode ${req.ServiceCode}`);
  const docs = products.map((p, i) => ({ p, doc: priceListDocument(p, i) }));
  const attrOf = (p: PricedProduct, field: string): string | undefined => {
    const attrs = (JSON.parse(priceListDocument(p, 0)) as { product: { attributes: Record<string, string> } }).product.attributes;
    return attrs[field];
  };
  const matching = docs.filter(({ p }) =>
    (req.Filters ?? []).every((f) => {
      const v = attrOf(p, f.Field);
      if (v === undefined) return false;
      if (f.Type === "TERM_MATCH") return v === f.Value;
      if (f.Type === "ANY_OF") return f.Value.split(",").includes(v);
      if (f.Type === "CONTAINS") return v.includes(f.Value);
      if (f.Type === "EQUALS") return v === f.Value;
      return false;
    }),
  );
  const start = req.NextToken ? Number(req.NextToken) : 0;
  const size = Math.min(req.MaxResults ?? 100, pageSize);
  const slice = matching.slice(start, start + size);
  const next = start + size < matching.length ? String(start + size) : undefined;
  return {
    status: 200,
    body: { FormatVersion: "aws_v1", PriceList: slice.map((d) => d.doc), ...(next ? { NextToken: next } : {}) },
  };
}
