import { type _InstanceType, type EC2Client, paginateDescribeSpotPriceHistory } from "@aws-sdk/client-ec2";

/** The latest spot price of each (type, zone) pool, from DescribeSpotPriceHistory. */
export interface SpotPool {
  instanceType: string;
  zone: string;
  price: number;
  timestamp: number;
}

export async function latestSpotPrices(ec2: EC2Client, instanceTypes: string[], now: number): Promise<SpotPool[]> {
  const latest = new Map<string, SpotPool>();
  // A StartTime of "now" still returns the last change before it for every pool: the current price.
  const pages = paginateDescribeSpotPriceHistory(
    { client: ec2, pageSize: 1000 },
    { InstanceTypes: instanceTypes as _InstanceType[], ProductDescriptions: ["Linux/UNIX"], StartTime: new Date(now) },
  );
  for await (const page of pages) {
    for (const p of page.SpotPriceHistory ?? []) {
      if (!p.InstanceType || !p.AvailabilityZone || p.SpotPrice === undefined) continue;
      const price = Number(p.SpotPrice);
      const timestamp = p.Timestamp?.getTime() ?? 0;
      if (!Number.isFinite(price)) continue;
      const key = `${p.InstanceType}\u0000${p.AvailabilityZone}`;
      const seen = latest.get(key);
      if (!seen || timestamp > seen.timestamp)
        latest.set(key, { instanceType: p.InstanceType, zone: p.AvailabilityZone, price, timestamp });
    }
  }
  return [...latest.values()].sort((a, b) => a.price - b.price);
}
