import type { ActionContext } from "./ec2-actions.js";
import { Ec2Fault, filtersOf } from "./ec2-actions.js";
import type { Subnet, Vpc } from "./ec2-world.js";
import { type QueryParams, scalars } from "./query-params.js";
import { el, items, type XmlNode } from "./xml.js";

/**
 * The read-only network and placement calls `spotrun setup` makes: DescribeAvailabilityZones,
 * DescribeVpcs, DescribeSubnets, in the EC2 model's element names (`availabilityZoneInfo`,
 * `vpcSet`, `subnetSet`), with the filters EC2 documents for them.
 */
const OWNER = "123456789012";

function unknownFilter(name: string): never {
  throw new Ec2Fault("InvalidParameterValue", `The filter '${name}' is invalid`);
}

export function describeAvailabilityZones(ctx: ActionContext, p: QueryParams): XmlNode[] {
  const names = scalars(p, "ZoneName");
  for (const n of names)
    if (!ctx.world.zones.includes(n)) throw new Ec2Fault("InvalidParameterValue", `Invalid availability zone: [${n}]`);
  const filters = filtersOf(p);
  const zones = ctx.world.zones.filter(
    (z) =>
      (!names.length || names.includes(z)) &&
      filters.every((f) => {
        if (f.name === "zone-name") return f.values.includes(z);
        if (f.name === "state") return f.values.includes("available");
        if (f.name === "region-name") return f.values.includes(ctx.world.region);
        return unknownFilter(f.name);
      }),
  );
  return [
    items(
      "availabilityZoneInfo",
      zones.map((z, i) => [
        el("zoneName", z),
        el("zoneState", "available"),
        el("regionName", ctx.world.region),
        el("zoneId", `${ctx.world.region.replace(/-/g, "").slice(0, 4)}-az${i + 1}`),
        el("zoneType", "availability-zone"),
        el("optInStatus", "opt-in-not-required"),
        items("messageSet", []),
      ]),
    ),
  ];
}

const vpcXml = (v: Vpc): XmlNode[] => [
  el("vpcId", v.id),
  el("ownerId", OWNER),
  el("state", "available"),
  el("cidrBlock", v.cidr),
  el("dhcpOptionsId", "dopt-0default"),
  el("instanceTenancy", "default"),
  el("isDefault", v.isDefault),
];

export function describeVpcs(ctx: ActionContext, p: QueryParams): XmlNode[] {
  const ids = scalars(p, "VpcId");
  for (const id of ids)
    if (!ctx.world.vpcs.has(id)) throw new Ec2Fault("InvalidVpcID.NotFound", `The vpc ID '${id}' does not exist`);
  const filters = filtersOf(p);
  const found = [...ctx.world.vpcs.values()].filter(
    (v) =>
      (!ids.length || ids.includes(v.id)) &&
      filters.every((f) => {
        if (f.name === "is-default") return f.values.includes(String(v.isDefault));
        if (f.name === "vpc-id") return f.values.includes(v.id);
        if (f.name === "state") return f.values.includes("available");
        return unknownFilter(f.name);
      }),
  );
  return [items("vpcSet", found.map(vpcXml))];
}

const subnetXml = (s: Subnet): XmlNode[] => [
  el("subnetId", s.id),
  el("subnetArn", `arn:aws:ec2:${s.zone.slice(0, -1)}:${OWNER}:subnet/${s.id}`),
  el("state", "available"),
  el("ownerId", OWNER),
  el("vpcId", s.vpcId),
  el("cidrBlock", s.cidr),
  el("availableIpAddressCount", 4091),
  el("availabilityZone", s.zone),
  el("defaultForAz", s.defaultForAz),
  el("mapPublicIpOnLaunch", s.defaultForAz),
];

export function describeSubnets(ctx: ActionContext, p: QueryParams): XmlNode[] {
  const ids = scalars(p, "SubnetId");
  for (const id of ids)
    if (!ctx.world.subnets.has(id)) throw new Ec2Fault("InvalidSubnetID.NotFound", `The subnet ID '${id}' does not exist`);
  const filters = filtersOf(p);
  const found = [...ctx.world.subnets.values()].filter(
    (s) =>
      (!ids.length || ids.includes(s.id)) &&
      filters.every((f) => {
        if (f.name === "vpc-id") return f.values.includes(s.vpcId);
        if (f.name === "default-for-az") return f.values.includes(String(s.defaultForAz));
        if (f.name === "availability-zone") return f.values.includes(s.zone);
        if (f.name === "subnet-id") return f.values.includes(s.id);
        return unknownFilter(f.name);
      }),
  );
  return [items("subnetSet", found.map(subnetXml))];
}

export const NETWORK_ACTIONS = {
  DescribeAvailabilityZones: describeAvailabilityZones,
  DescribeVpcs: describeVpcs,
  DescribeSubnets: describeSubnets,
};
