import type { Instance } from "@aws-sdk/client-ec2";
import { InstanceId } from "../../base/ids.js";
import type { InstanceInfo, InstanceStatus } from "../provider.js";

/** EC2's view of an instance → ours. Prices come from the caller (spot history, catalog). */
const STATUS: Record<string, InstanceStatus> = {
  pending: "pending",
  running: "running",
  "shutting-down": "stopping",
  stopping: "stopping",
  stopped: "stopped",
  terminated: "terminated",
};

/** State reasons EC2 gives when it reclaimed a spot instance (a code, not prose). */
const SPOT_RECLAIM = new Set(["Server.SpotInstanceTermination", "Server.SpotInstanceShutdown"]);

export const tagsOf = (i: Instance): Record<string, string> =>
  Object.fromEntries((i.Tags ?? []).filter((t) => t.Key !== undefined).map((t) => [t.Key as string, t.Value ?? ""]));

export function toInstanceInfo(
  i: Instance,
  ctx: {
    region: string;
    now: number;
    price: (type: string, zone: string | undefined, spot: boolean) => { price: number; onDemand: number };
  },
): InstanceInfo {
  const type = i.InstanceType ?? "unknown";
  const zone = i.Placement?.AvailabilityZone;
  const spot = i.InstanceLifecycle === "spot";
  const { price, onDemand } = ctx.price(type, zone, spot);
  const ip = i.PublicIpAddress ?? i.PrivateIpAddress;
  const info: InstanceInfo = {
    id: InstanceId(i.InstanceId ?? ""),
    provider: "aws",
    instanceType: type,
    region: ctx.region,
    spot,
    status: STATUS[i.State?.Name ?? ""] ?? "pending",
    pricePerHour: price,
    onDemandPricePerHour: onDemand,
    launchedAt: i.LaunchTime ? i.LaunchTime.getTime() : ctx.now,
    tags: tagsOf(i),
  };
  if (zone) info.zone = zone;
  if (ip) info.address = `${ip}:22`;
  const reason = i.StateReason?.Code;
  if (reason && SPOT_RECLAIM.has(reason)) info.interrupted = { reason, at: ctx.now };
  return info;
}
