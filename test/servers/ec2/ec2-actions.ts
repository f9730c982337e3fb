import { Ec2World, type LaunchTemplate, type SecurityGroup, type SimInstance, STATE_CODE } from "./ec2-world.js";
import { members, type QueryParams, scalars, sub, tagSpecifications } from "./query-params.js";
import { el, items, type XmlNode } from "./xml.js";

/** An EC2 error answer: code, message and HTTP status (400 client, 503 throttling/unavailable, 500 internal). */
export class Ec2Fault extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

export type Market = "spot" | "on-demand";

/** A programmed refusal: matching launches fail with `code` (a capacity, price or quota error). */
export interface RefusalRule {
  action?: "RunInstances" | "CreateFleet";
  market?: Market;
  instanceType?: string;
  zone?: string;
  code: string;
  message?: string;
  /** Refuse this many times, then stop; unlimited when absent. */
  times?: number;
}

export interface ActionContext {
  world: Ec2World;
  refusals: RefusalRule[];
  pageSize: number;
}

const tagItems = (tags: Record<string, string>) =>
  items(
    "tagSet",
    Object.entries(tags).map(([k, v]) => [el("key", k), el("value", v)]),
  );
const iso = (ms: number) => new Date(ms).toISOString();

export function instanceXml(i: SimInstance): XmlNode[] {
  return [
    el("instanceId", i.id),
    el("imageId", i.imageId),
    el("instanceState", [el("code", STATE_CODE[i.state]), el("name", i.state)]),
    el("privateDnsName", `ip-${i.privateIp.replace(/\./g, "-")}.ec2.internal`),
    el("dnsName", i.state === "running" ? `ec2-${i.publicIp.replace(/\./g, "-")}.compute-1.amazonaws.com` : ""),
    el("reason", i.stateReason?.message ?? ""),
    el("keyName", i.keyName),
    el("amiLaunchIndex", i.amiLaunchIndex),
    el("instanceType", i.instanceType),
    el("launchTime", iso(i.launchTime)),
    el("placement", [el("availabilityZone", i.zone), el("groupName", ""), el("tenancy", "default")]),
    el("monitoring", [el("state", "disabled")]),
    el("privateIpAddress", i.privateIp),
    el("ipAddress", i.state === "running" || i.state === "pending" ? i.publicIp : undefined),
    el("clientToken", i.clientToken),
    el("instanceLifecycle", i.spot ? "spot" : undefined),
    el("spotInstanceRequestId", i.spotRequestId),
    i.stateReason
      ? el("stateReason", [el("code", i.stateReason.code), el("message", i.stateReason.message)])
      : el("stateReason", undefined),
    tagItems(i.tags),
  ];
}

function takeRefusal(
  ctx: ActionContext,
  action: RefusalRule["action"],
  market: Market,
  type: string,
  zone: string,
): RefusalRule | undefined {
  const rule = ctx.refusals.find(
    (r) =>
      (r.action === undefined || r.action === action) &&
      (r.market === undefined || r.market === market) &&
      (r.instanceType === undefined || r.instanceType === type) &&
      (r.zone === undefined || r.zone === zone) &&
      (r.times === undefined || r.times > 0),
  );
  if (rule?.times !== undefined) rule.times--;
  return rule;
}

const refusalMessage = (code: string, type: string, zone: string, market: Market) =>
  code === "InsufficientInstanceCapacity"
    ? `We currently do not have sufficient ${type} capacity in the Availability Zone you requested (${zone}). Our system will be working on provisioning additional capacity.`
    : `${code}: ${market} ${type} in ${zone} refused by the simulated account`;

function requireParam(p: QueryParams, name: string): string {
  const v = p[name];
  if (v === undefined || v === "") throw new Ec2Fault("MissingParameter", `The request must contain the parameter ${name}`);
  return v;
}

function positiveInt(p: QueryParams, name: string): number {
  const n = Number(requireParam(p, name));
  if (!Number.isInteger(n) || n < 1)
    throw new Ec2Fault("InvalidParameterValue", `Value (${p[name]}) for parameter ${name} is invalid.`);
  return n;
}

/** MaxPrice must be a decimal > 0.001 and at least the current spot price, or the launch is refused for price. */
function checkMaxPrice(world: Ec2World, maxPrice: string | undefined, type: string, zone: string): Ec2Fault | undefined {
  if (maxPrice === undefined) return undefined;
  const n = Number(maxPrice);
  if (!/^\d+(\.\d+)?$/.test(maxPrice) || n <= 0.001)
    return new Ec2Fault(
      "InvalidParameterValue",
      `Value (${maxPrice}) for parameter maxPrice is invalid. It must be greater than 0.001.`,
    );
  const current = world.spotPrice(type, zone);
  if (current !== undefined && n < current)
    return new Ec2Fault(
      "SpotMaxPriceTooLow",
      `Your Spot request price of ${maxPrice} is lower than the minimum required Spot request fulfillment price of ${current}.`,
    );
  return undefined;
}

/**
 * What the server knows of instance types, for DescribeInstanceTypes and the hibernation checks:
 * memory as the EC2 instance-type pages list it, and whether hibernation is supported (M7i, C7i,
 * M6i, M5 and T3 are; G5 is not).
 */
export const INSTANCE_TYPES: Record<string, { vcpus: number; memoryMiB: number; hibernation: boolean }> = {
  "m7i.large": { vcpus: 2, memoryMiB: 8192, hibernation: true },
  "m7i.2xlarge": { vcpus: 8, memoryMiB: 32768, hibernation: true },
  "m6i.large": { vcpus: 2, memoryMiB: 8192, hibernation: true },
  "m5.large": { vcpus: 2, memoryMiB: 8192, hibernation: true },
  "c7i.xlarge": { vcpus: 4, memoryMiB: 8192, hibernation: true },
  "t3.micro": { vcpus: 2, memoryMiB: 1024, hibernation: true },
  "g5.xlarge": { vcpus: 4, memoryMiB: 16384, hibernation: false },
};

export function describeInstanceTypes(_ctx: ActionContext, p: QueryParams): XmlNode[] {
  const asked = scalars(p, "InstanceType");
  for (const t of asked)
    if (!INSTANCE_TYPES[t])
      throw new Ec2Fault("InvalidInstanceType", `The following supplied instance types do not exist: [${t}]`);
  return [
    items(
      "instanceTypeSet",
      (asked.length ? asked : Object.keys(INSTANCE_TYPES)).map((t) => {
        const f = INSTANCE_TYPES[t] as (typeof INSTANCE_TYPES)[string];
        return [
          el("instanceType", t),
          el("vCpuInfo", [el("defaultVCpus", f.vcpus)]),
          el("memoryInfo", [el("sizeInMiB", f.memoryMiB)]),
          el("hibernationSupported", f.hibernation),
        ];
      }),
    ),
  ];
}

/**
 * Hibernation as EC2 checks it at launch: `HibernationOptions.Configured=true`, a type that
 * supports it, an encrypted EBS root volume large enough for the RAM; a spot request then
 * hibernates (an interruption behavior other than hibernate is an error), and a spot request
 * asking to hibernate without being configured for it is refused.
 */
function checkHibernation(p: QueryParams, type: string, spot: boolean, behavior: string | undefined): void {
  const configured = p["HibernationOptions.Configured"] === "true";
  if (spot && behavior === "hibernate" && !configured)
    throw new Ec2Fault(
      "InvalidParameterCombination",
      "Spot Instance interruption behavior hibernate requires an instance configured for hibernation (HibernationOptions.Configured=true).",
    );
  if (!configured) return;
  if (spot && behavior !== undefined && behavior !== "hibernate")
    throw new Ec2Fault(
      "InvalidParameterCombination",
      `HibernationOptions.Configured=true requires interruption behavior hibernate, got ${behavior}.`,
    );
  const facts = INSTANCE_TYPES[type];
  if (!facts?.hibernation) throw new Ec2Fault("UnsupportedHibernationConfiguration", `Hibernation is not supported for ${type}.`);
  const root = members(p, "BlockDeviceMapping")[0];
  if (root?.["Ebs.Encrypted"] !== "true")
    throw new Ec2Fault("UnsupportedHibernationConfiguration", "Hibernation requires an encrypted EBS root volume.");
  const size = Number(root["Ebs.VolumeSize"] ?? 8);
  if (size * 1024 < facts.memoryMiB)
    throw new Ec2Fault(
      "UnsupportedHibernationConfiguration",
      `The root volume (${size} GiB) is too small to hold the RAM of ${type} (${facts.memoryMiB} MiB).`,
    );
}

export function runInstances(ctx: ActionContext, p: QueryParams): XmlNode[] {
  const { world } = ctx;
  const imageId = requireParam(p, "ImageId");
  const type = p.InstanceType ?? "m1.small";
  const min = positiveInt(p, "MinCount");
  const max = positiveInt(p, "MaxCount");
  if (min > max) throw new Ec2Fault("InvalidParameterValue", "MinCount must be less than or equal to MaxCount");
  const market = sub(p, "InstanceMarketOptions");
  const spot = market.MarketType === "spot";
  if (market.MarketType !== undefined && market.MarketType !== "spot" && market.MarketType !== "capacity-block")
    throw new Ec2Fault("InvalidParameterValue", `Value (${market.MarketType}) for parameter MarketType is invalid.`);
  const spotType = market["SpotOptions.SpotInstanceType"];
  const behavior = market["SpotOptions.InstanceInterruptionBehavior"];
  if (spot && spotType !== "persistent" && (behavior === "stop" || behavior === "hibernate"))
    throw new Ec2Fault("InvalidParameterCombination", `Interruption behavior ${behavior} requires a persistent Spot request.`);
  checkHibernation(p, type, spot, behavior);
  const zone = p["Placement.AvailabilityZone"] ?? (spot ? world.cheapestZone(type) : (world.zones[0] as string));
  if (!world.zones.includes(zone)) throw new Ec2Fault("InvalidParameterValue", `Invalid availability zone: [${zone}]`);
  const m: Market = spot ? "spot" : "on-demand";
  const rule = takeRefusal(ctx, "RunInstances", m, type, zone);
  if (rule) throw new Ec2Fault(rule.code, rule.message ?? refusalMessage(rule.code, type, zone, m));
  if (spot) {
    const priceFault = checkMaxPrice(world, market["SpotOptions.MaxPrice"], type, zone);
    if (priceFault) throw priceFault;
  }
  for (const sg of scalars(p, "SecurityGroupId"))
    if (!world.securityGroups.has(sg)) throw new Ec2Fault("InvalidGroup.NotFound", `The security group '${sg}' does not exist`);
  // EC2 launches as many as it has room for between MinCount and MaxCount.
  const room = world.available(type, m);
  if (room < min)
    throw new Ec2Fault("InsufficientInstanceCapacity", refusalMessage("InsufficientInstanceCapacity", type, zone, m));
  const n = Math.min(max, room);
  world.consume(type, m, n);
  const tags = tagSpecifications(p).get("instance") ?? {};
  const reservationId = world.newReservationId();
  const launched: SimInstance[] = [];
  for (let k = 0; k < n; k++)
    launched.push(
      world.newInstance({
        reservationId,
        imageId,
        instanceType: type,
        zone,
        spot,
        keyName: p.KeyName,
        clientToken: p.ClientToken,
        tags: { ...tags },
        amiLaunchIndex: k,
        userData: p.UserData,
        marketOptions: market,
      }),
    );
  return [
    el("reservationId", reservationId),
    el("ownerId", "123456789012"),
    items("groupSet", []),
    items("instancesSet", launched.map(instanceXml)),
  ];
}

export function createLaunchTemplate(ctx: ActionContext, p: QueryParams): XmlNode[] {
  const name = requireParam(p, "LaunchTemplateName");
  if ([...ctx.world.launchTemplates.values()].some((t) => t.name === name))
    throw new Ec2Fault("InvalidLaunchTemplateName.AlreadyExistsException", `Launch template name already in use.`);
  const lt: LaunchTemplate = { id: ctx.world.newId("lt"), name, data: sub(p, "LaunchTemplateData"), createTime: ctx.world.now() };
  ctx.world.launchTemplates.set(lt.id, lt);
  return [el("launchTemplate", templateXml(lt))];
}

const templateXml = (lt: LaunchTemplate): XmlNode[] => [
  el("launchTemplateId", lt.id),
  el("launchTemplateName", lt.name),
  el("createTime", iso(lt.createTime)),
  el("createdBy", "arn:aws:iam::123456789012:user/spotrun-test"),
  el("defaultVersionNumber", 1),
  el("latestVersionNumber", 1),
];

function findTemplate(ctx: ActionContext, spec: Record<string, string>, prefix: string): LaunchTemplate {
  const id = spec[`${prefix}LaunchTemplateId`];
  const name = spec[`${prefix}LaunchTemplateName`];
  const lt = [...ctx.world.launchTemplates.values()].find((t) => (id ? t.id === id : t.name === name));
  if (!lt)
    throw new Ec2Fault(
      id ? "InvalidLaunchTemplateId.NotFound" : "InvalidLaunchTemplateName.NotFoundException",
      `The specified launch template, with template ${id ? `ID ${id}` : `name ${name}`}, does not exist.`,
    );
  return lt;
}

export function describeLaunchTemplates(ctx: ActionContext, p: QueryParams): XmlNode[] {
  const names = scalars(p, "LaunchTemplateName");
  const ids = scalars(p, "LaunchTemplateId");
  const found = [...ctx.world.launchTemplates.values()].filter(
    (lt) => (!names.length || names.includes(lt.name)) && (!ids.length || ids.includes(lt.id)),
  );
  return [items("launchTemplates", found.map(templateXml))];
}

export function deleteLaunchTemplate(ctx: ActionContext, p: QueryParams): XmlNode[] {
  const lt = findTemplate(ctx, p, "");
  ctx.world.launchTemplates.delete(lt.id);
  return [el("launchTemplate", templateXml(lt))];
}

/**
 * CreateFleet of type `instant`: for each market, try the overrides in allocation order; a refused
 * override becomes an item of `errorSet`, the first accepted one gets the capacity. A 200 may carry
 * both instances and errors (partial success).
 */
export function createFleet(ctx: ActionContext, p: QueryParams): XmlNode[] {
  const { world } = ctx;
  if (p.Type !== "instant")
    throw new Ec2Fault(
      "InvalidParameterValue",
      `The simulated account supports fleets of type instant only, not ${p.Type ?? "maintain"}`,
    );
  const configs = members(p, "LaunchTemplateConfigs");
  if (configs.length === 0)
    throw new Ec2Fault("MissingParameter", "The request must contain the parameter LaunchTemplateConfigs");
  const target = sub(p, "TargetCapacitySpecification");
  const total = Number(target.TotalTargetCapacity);
  if (!Number.isInteger(total) || total < 1)
    throw new Ec2Fault("InvalidParameterValue", "TargetCapacitySpecification.TotalTargetCapacity must be a positive integer");
  const defaultType = (target.DefaultTargetCapacityType ?? "on-demand") as Market;
  let spotCount =
    target.SpotTargetCapacity !== undefined ? Number(target.SpotTargetCapacity) : defaultType === "spot" ? total : 0;
  let odCount = target.OnDemandTargetCapacity !== undefined ? Number(target.OnDemandTargetCapacity) : 0;
  const rest = total - spotCount - odCount;
  if (rest > 0) defaultType === "spot" ? (spotCount += rest) : (odCount += rest);
  const fleetTags = tagSpecifications(p);
  const spotOptions = sub(p, "SpotOptions");

  type Candidate = { lt: LaunchTemplate; override: Record<string, string>; ltSpec: Record<string, string> };
  const candidates: Candidate[] = [];
  for (const cfg of configs) {
    const lt = findTemplate(ctx, cfg, "LaunchTemplateSpecification.");
    const ltSpec = sub(cfg, "LaunchTemplateSpecification");
    const overrides = members(cfg, "Overrides");
    for (const o of overrides.length ? overrides : [{}]) candidates.push({ lt, override: o, ltSpec });
  }
  const typeOf = (c: Candidate) => c.override.InstanceType ?? c.lt.data.InstanceType ?? "m1.small";
  const zoneOf = (c: Candidate, m: Market) =>
    c.override.AvailabilityZone ?? (m === "spot" ? world.cheapestZone(typeOf(c)) : (world.zones[0] as string));
  const overridesXml = (c: Candidate, zone: string) =>
    el("launchTemplateAndOverrides", [
      el("launchTemplateSpecification", [el("launchTemplateId", c.lt.id), el("version", c.ltSpec.Version ?? "$Default")]),
      el("overrides", [el("instanceType", typeOf(c)), el("maxPrice", c.override.MaxPrice), el("availabilityZone", zone)]),
    ]);

  const errors: XmlNode[][] = [];
  const fleetInstances: XmlNode[][] = [];
  const reservationId = world.newReservationId();
  let launchIndex = 0;
  const fill = (market: Market, count: number) => {
    if (count <= 0) return;
    const ordered = [...candidates];
    if (market === "spot" && spotOptions.AllocationStrategy !== "capacity-optimized-prioritized")
      ordered.sort(
        (a, b) => (world.spotPrice(typeOf(a), zoneOf(a, "spot")) ?? 1e9) - (world.spotPrice(typeOf(b), zoneOf(b, "spot")) ?? 1e9),
      );
    else if (market === "spot" || sub(p, "OnDemandOptions").AllocationStrategy === "prioritized")
      ordered.sort((a, b) => Number(a.override.Priority ?? 0) - Number(b.override.Priority ?? 0));
    const minTarget = Number((market === "spot" ? spotOptions : sub(p, "OnDemandOptions")).MinTargetCapacity ?? 0);
    const made: { entry: XmlNode[]; ids: string[]; type: string }[] = [];
    const errorsBefore = errors.length;
    let remaining = count;
    for (const c of ordered) {
      if (remaining === 0) break;
      const type = typeOf(c);
      const zone = zoneOf(c, market);
      const rule = takeRefusal(ctx, "CreateFleet", market, type, zone);
      const available = world.available(type, market);
      const fault =
        (rule && new Ec2Fault(rule.code, rule.message ?? refusalMessage(rule.code, type, zone, market))) ||
        (market === "spot"
          ? checkMaxPrice(world, c.override.MaxPrice ?? c.lt.data["InstanceMarketOptions.SpotOptions.MaxPrice"], type, zone)
          : undefined) ||
        (available === 0
          ? new Ec2Fault("InsufficientInstanceCapacity", refusalMessage("InsufficientInstanceCapacity", type, zone, market))
          : undefined);
      if (fault) {
        errors.push([
          overridesXml(c, zone),
          el("lifecycle", market),
          el("errorCode", fault.code),
          el("errorMessage", fault.message),
        ]);
        continue;
      }
      // A pool with less room than asked gives what it has; the fleet moves on to the next pool.
      const take = Math.min(remaining, available);
      const short = take < remaining;
      const tags = { ...tagsOfTemplate(c.lt), ...(fleetTags.get("instance") ?? {}) };
      const ids: string[] = [];
      for (let k = 0; k < take; k++)
        ids.push(
          world.newInstance({
            reservationId,
            imageId: c.override.ImageId ?? c.lt.data.ImageId ?? "ami-00000000",
            instanceType: type,
            zone,
            spot: market === "spot",
            keyName: c.lt.data.KeyName,
            clientToken: p.ClientToken,
            tags: { ...tags, "aws:ec2:fleet-id": "pending" },
            amiLaunchIndex: launchIndex++,
            userData: c.lt.data.UserData,
          }).id,
        );
      world.consume(type, market, take);
      remaining -= take;
      made.push({
        ids,
        type,
        entry: [
          overridesXml(c, zone),
          el("lifecycle", market),
          items("instanceIds", ids),
          el("instanceType", type),
          el("availabilityZone", zone),
          el("platform", undefined),
        ],
      });
      if (short)
        errors.push([
          overridesXml(c, zone),
          el("lifecycle", market),
          el("errorCode", "InsufficientInstanceCapacity"),
          el("errorMessage", refusalMessage("InsufficientInstanceCapacity", type, zone, market)),
        ]);
    }
    // MinTargetCapacity: below it, EC2 launches nothing at all.
    if (minTarget > 0 && count - remaining < minTarget) {
      for (const m of made) {
        for (const id of m.ids) world.instances.delete(id);
        world.consume(m.type, market, -m.ids.length);
      }
      if (errors.length === errorsBefore)
        errors.push([
          el("lifecycle", market),
          el("errorCode", "UnfulfillableCapacity"),
          el("errorMessage", "MinTargetCapacity not reached"),
        ]);
      return;
    }
    for (const m of made) fleetInstances.push(m.entry);
  };
  fill("spot", spotCount);
  fill("on-demand", odCount);
  const fleetId = `fleet-${world.newId("x", 8).slice(2)}-${world.newId("x", 4).slice(2)}`;
  for (const i of world.instances.values()) if (i.tags["aws:ec2:fleet-id"] === "pending") i.tags["aws:ec2:fleet-id"] = fleetId;
  return [el("fleetId", fleetId), items("errorSet", errors), items("fleetInstanceSet", fleetInstances)];
}

function tagsOfTemplate(lt: LaunchTemplate): Record<string, string> {
  return tagSpecifications(lt.data, "TagSpecification").get("instance") ?? {};
}

export type Filter = { name: string; values: string[] };

function matches(i: SimInstance, f: Filter): boolean {
  if (f.name.startsWith("tag:")) {
    const v = i.tags[f.name.slice(4)];
    return v !== undefined && f.values.includes(v);
  }
  switch (f.name) {
    case "tag-key":
      return f.values.some((k) => k in i.tags);
    case "instance-state-name":
      return f.values.includes(i.state);
    case "instance-id":
      return f.values.includes(i.id);
    case "instance-type":
      return f.values.includes(i.instanceType);
    case "instance-lifecycle":
      return f.values.includes(i.spot ? "spot" : "");
    case "availability-zone":
      return f.values.includes(i.zone);
    default:
      throw new Ec2Fault("InvalidParameterValue", `The filter '${f.name}' is invalid`);
  }
}

/** EC2 takes at most 200 values in one filter (FilterLimitExceeded beyond that). */
export const MAX_FILTER_VALUES = 200;

export function filtersOf(p: QueryParams): Filter[] {
  const filters = members(p, "Filter").map((f) => ({ name: f.Name ?? "", values: scalars(f, "Value") }));
  for (const f of filters)
    if (f.values.length > MAX_FILTER_VALUES)
      throw new Ec2Fault(
        "FilterLimitExceeded",
        `The filter '${f.name}' has ${f.values.length} values; at most ${MAX_FILTER_VALUES} are allowed.`,
      );
  return filters;
}

function page<T>(all: T[], p: QueryParams, defaultSize: number): { slice: T[]; next?: string } {
  const start = p.NextToken ? Number(Buffer.from(p.NextToken, "base64").toString("utf8")) : 0;
  if (!Number.isInteger(start) || start < 0) throw new Ec2Fault("InvalidNextToken", "The specified NextToken is not valid.");
  const size = Math.min(p.MaxResults ? Number(p.MaxResults) : defaultSize, defaultSize);
  const end = start + size;
  return { slice: all.slice(start, end), ...(end < all.length ? { next: Buffer.from(String(end)).toString("base64") } : {}) };
}

export function describeInstances(ctx: ActionContext, p: QueryParams): XmlNode[] {
  const { world } = ctx;
  world.advance();
  const ids = scalars(p, "InstanceId");
  if (p.MaxResults !== undefined && !(Number(p.MaxResults) >= 5 && Number(p.MaxResults) <= 1000))
    throw new Ec2Fault("InvalidParameterValue", `MaxResults ${p.MaxResults} is not between 5 and 1000`);
  if (ids.length && p.MaxResults)
    throw new Ec2Fault("InvalidParameterCombination", "The parameter instancesSet cannot be used with the parameter maxResults");
  for (const id of ids)
    if (!world.instances.has(id)) throw new Ec2Fault("InvalidInstanceID.NotFound", `The instance ID '${id}' does not exist`);
  const filters = filtersOf(p);
  const all = [...world.instances.values()].filter(
    (i) => (!ids.length || ids.includes(i.id)) && filters.every((f) => matches(i, f)),
  );
  const { slice, next } = page(all, p, ctx.pageSize);
  const byReservation = new Map<string, SimInstance[]>();
  for (const i of slice) byReservation.set(i.reservationId, [...(byReservation.get(i.reservationId) ?? []), i]);
  return [
    items(
      "reservationSet",
      [...byReservation.entries()].map(([rid, insts]) => [
        el("reservationId", rid),
        el("ownerId", "123456789012"),
        items("groupSet", []),
        items("instancesSet", insts.map(instanceXml)),
      ]),
    ),
    el("nextToken", next),
  ];
}

export function terminateInstances(ctx: ActionContext, p: QueryParams): XmlNode[] {
  const ids = scalars(p, "InstanceId");
  if (!ids.length) throw new Ec2Fault("MissingParameter", "The request must contain the parameter InstanceId");
  for (const id of ids)
    if (!ctx.world.instances.has(id)) throw new Ec2Fault("InvalidInstanceID.NotFound", `The instance ID '${id}' does not exist`);
  const changes = ids.map((id) => {
    const i = ctx.world.instances.get(id) as SimInstance;
    const prev = i.state;
    if (prev !== "terminated") i.state = "shutting-down";
    return [
      el("instanceId", id),
      el("currentState", [el("code", STATE_CODE[i.state]), el("name", i.state)]),
      el("previousState", [el("code", STATE_CODE[prev]), el("name", prev)]),
    ];
  });
  return [items("instancesSet", changes)];
}

export function describeSpotPriceHistory(ctx: ActionContext, p: QueryParams): XmlNode[] {
  const types = scalars(p, "InstanceType");
  const products = scalars(p, "ProductDescription");
  const zone = p.AvailabilityZone;
  const start = p.StartTime ? Date.parse(p.StartTime) : undefined;
  const pool = ctx.world.spotPrices.filter(
    (s) =>
      (!types.length || types.includes(s.instanceType)) &&
      (!products.length || products.includes(s.productDescription ?? "Linux/UNIX")) &&
      (!zone || s.zone === zone),
  );
  // Like EC2: every change since StartTime, plus the last change before it for each pool.
  const keep = pool.filter((s) => {
    if (start === undefined || s.timestamp >= start) return true;
    return !pool.some(
      (o) => o.instanceType === s.instanceType && o.zone === s.zone && o.timestamp > s.timestamp && o.timestamp <= start,
    );
  });
  keep.sort((a, b) => b.timestamp - a.timestamp);
  const { slice, next } = page(keep, p, Math.max(ctx.pageSize, 1));
  return [
    items(
      "spotPriceHistorySet",
      slice.map((s) => [
        el("instanceType", s.instanceType),
        el("productDescription", s.productDescription ?? "Linux/UNIX"),
        el("spotPrice", s.price.toFixed(6)),
        el("timestamp", iso(s.timestamp)),
        el("availabilityZone", s.zone),
      ]),
    ),
    el("nextToken", next ?? ""),
  ];
}

export function importKeyPair(ctx: ActionContext, p: QueryParams): XmlNode[] {
  const name = requireParam(p, "KeyName");
  const material = Buffer.from(requireParam(p, "PublicKeyMaterial"), "base64").toString("utf8");
  if (!/^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp\d+) [A-Za-z0-9+/=]+/.test(material))
    throw new Ec2Fault("InvalidKeyPair.Format", "Key is not in valid OpenSSH public key format");
  if (ctx.world.keyPairs.has(name)) throw new Ec2Fault("InvalidKeyPair.Duplicate", `The keypair already exists`);
  const kp = { id: ctx.world.newId("key"), name, publicKey: material, fingerprint: Ec2World.fingerprint(material) };
  ctx.world.keyPairs.set(name, kp);
  return [el("keyFingerprint", kp.fingerprint), el("keyName", name), el("keyPairId", kp.id)];
}

export function describeKeyPairs(ctx: ActionContext, p: QueryParams): XmlNode[] {
  const names = scalars(p, "KeyName");
  for (const n of names)
    if (!ctx.world.keyPairs.has(n)) throw new Ec2Fault("InvalidKeyPair.NotFound", `The key pair '${n}' does not exist`);
  const list = [...ctx.world.keyPairs.values()].filter((k) => !names.length || names.includes(k.name));
  return [
    items(
      "keySet",
      list.map((k) => [
        el("keyPairId", k.id),
        el("keyName", k.name),
        el("keyFingerprint", k.fingerprint),
        el("keyType", k.publicKey.startsWith("ssh-ed25519") ? "ed25519" : "rsa"),
      ]),
    ),
  ];
}

const groupXml = (g: SecurityGroup): XmlNode[] => [
  el("ownerId", "123456789012"),
  el("groupId", g.id),
  el("groupName", g.name),
  el("groupDescription", g.description),
  el("vpcId", g.vpcId),
  items(
    "ipPermissions",
    g.ingress.map((r) => [
      el("ipProtocol", r.protocol),
      el("fromPort", r.fromPort),
      el("toPort", r.toPort),
      items("ipRanges", [[el("cidrIp", r.cidr)]]),
    ]),
  ),
  tagItems(g.tags),
];

export function describeSecurityGroups(ctx: ActionContext, p: QueryParams): XmlNode[] {
  const names = scalars(p, "GroupName");
  const ids = scalars(p, "GroupId");
  const all = [...ctx.world.securityGroups.values()];
  // By name, EC2 looks in the default VPC only.
  for (const n of names)
    if (!all.some((g) => g.name === n && g.vpcId === ctx.world.defaultVpcId))
      throw new Ec2Fault(
        "InvalidGroup.NotFound",
        `The security group '${n}' does not exist in default VPC '${ctx.world.defaultVpcId}'`,
      );
  for (const id of ids)
    if (!ctx.world.securityGroups.has(id))
      throw new Ec2Fault("InvalidGroup.NotFound", `The security group '${id}' does not exist`);
  const filters = filtersOf(p);
  const found = all.filter(
    (g) =>
      (!names.length || (names.includes(g.name) && g.vpcId === ctx.world.defaultVpcId)) &&
      (!ids.length || ids.includes(g.id)) &&
      filters.every((f) => {
        if (f.name === "group-name") return f.values.includes(g.name);
        if (f.name === "vpc-id") return f.values.includes(g.vpcId);
        if (f.name.startsWith("tag:")) return f.values.includes(g.tags[f.name.slice(4)] ?? "\u0000");
        throw new Ec2Fault("InvalidParameterValue", `The filter '${f.name}' is invalid`);
      }),
  );
  return [items("securityGroupInfo", found.map(groupXml))];
}

export function createSecurityGroup(ctx: ActionContext, p: QueryParams): XmlNode[] {
  const name = requireParam(p, "GroupName");
  const description = requireParam(p, "GroupDescription");
  const vpcId = p.VpcId ?? ctx.world.defaultVpcId;
  if ([...ctx.world.securityGroups.values()].some((g) => g.name === name && g.vpcId === vpcId))
    throw new Ec2Fault("InvalidGroup.Duplicate", `The security group '${name}' already exists for VPC '${vpcId}'`);
  const g: SecurityGroup = {
    id: ctx.world.newId("sg"),
    name,
    description,
    vpcId,
    tags: tagSpecifications(p).get("security-group") ?? {},
    ingress: [],
  };
  ctx.world.securityGroups.set(g.id, g);
  return [el("return", true), el("groupId", g.id), tagItems(g.tags)];
}

export function authorizeSecurityGroupIngress(ctx: ActionContext, p: QueryParams): XmlNode[] {
  const g = ctx.world.securityGroups.get(requireParam(p, "GroupId"));
  if (!g) throw new Ec2Fault("InvalidGroup.NotFound", `The security group '${p.GroupId}' does not exist`);
  const added: XmlNode[][] = [];
  for (const perm of members(p, "IpPermissions")) {
    for (const range of members(perm, "IpRanges")) {
      const rule = {
        protocol: perm.IpProtocol ?? "",
        fromPort: Number(perm.FromPort),
        toPort: Number(perm.ToPort),
        cidr: range.CidrIp ?? "",
      };
      if (g.ingress.some((r) => JSON.stringify(r) === JSON.stringify(rule)))
        throw new Ec2Fault(
          "InvalidPermission.Duplicate",
          `the specified rule "peer: ${rule.cidr}, TCP, from port: ${rule.fromPort}, to port: ${rule.toPort}, ALLOW" already exists`,
        );
      g.ingress.push(rule);
      added.push([
        el("securityGroupRuleId", ctx.world.newId("sgr")),
        el("groupId", g.id),
        el("isEgress", false),
        el("ipProtocol", rule.protocol),
        el("fromPort", rule.fromPort),
        el("toPort", rule.toPort),
        el("cidrIpv4", rule.cidr),
      ]);
    }
  }
  return [el("return", true), items("securityGroupRuleSet", added)];
}

export const ACTIONS: Record<string, (ctx: ActionContext, p: QueryParams) => XmlNode[]> = {
  RunInstances: runInstances,
  DescribeInstanceTypes: describeInstanceTypes,
  CreateFleet: createFleet,
  CreateLaunchTemplate: createLaunchTemplate,
  DeleteLaunchTemplate: deleteLaunchTemplate,
  DescribeInstances: describeInstances,
  TerminateInstances: terminateInstances,
  DescribeSpotPriceHistory: describeSpotPriceHistory,
  ImportKeyPair: importKeyPair,
  DescribeKeyPairs: describeKeyPairs,
  DescribeSecurityGroups: describeSecurityGroups,
  CreateSecurityGroup: createSecurityGroup,
  AuthorizeSecurityGroupIngress: authorizeSecurityGroupIngress,
  DescribeLaunchTemplates: describeLaunchTemplates,
};
