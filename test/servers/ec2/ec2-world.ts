import { createHash, randomBytes } from "node:crypto";

/** The simulated account the EC2 server acts on: instances, launch templates, key pairs, spot prices. */
export interface SimInstance {
  id: string;
  reservationId: string;
  imageId: string;
  instanceType: string;
  zone: string;
  spot: boolean;
  spotRequestId?: string;
  state: "pending" | "running" | "shutting-down" | "terminated" | "stopping" | "stopped";
  launchTime: number;
  keyName?: string;
  clientToken?: string;
  tags: Record<string, string>;
  privateIp: string;
  publicIp: string;
  amiLaunchIndex: number;
  userData?: string;
  marketOptions?: Record<string, string>;
  stateReason?: { code: string; message: string };
}

export interface SpotPricePoint {
  instanceType: string;
  zone: string;
  price: number;
  /** Epoch ms. */
  timestamp: number;
  productDescription?: string;
}

export interface LaunchTemplate {
  id: string;
  name: string;
  data: Record<string, string>;
  createTime: number;
}

export interface KeyPair {
  id: string;
  name: string;
  publicKey: string;
  fingerprint: string;
}

export interface SecurityGroup {
  id: string;
  name: string;
  description: string;
  vpcId: string;
  tags: Record<string, string>;
  ingress: { protocol: string; fromPort: number; toPort: number; cidr: string }[];
}

export interface Vpc {
  id: string;
  cidr: string;
  isDefault: boolean;
}

export interface Subnet {
  id: string;
  vpcId: string;
  zone: string;
  cidr: string;
  defaultForAz: boolean;
}

export const STATE_CODE: Record<SimInstance["state"], number> = {
  pending: 0,
  running: 16,
  "shutting-down": 32,
  terminated: 48,
  stopping: 64,
  stopped: 80,
};

const hex = (n: number) =>
  randomBytes(Math.ceil(n / 2))
    .toString("hex")
    .slice(0, n);

export class Ec2World {
  readonly instances = new Map<string, SimInstance>();
  readonly launchTemplates = new Map<string, LaunchTemplate>();
  readonly keyPairs = new Map<string, KeyPair>();
  readonly securityGroups = new Map<string, SecurityGroup>();
  /** The account's default VPC, where groups made without a VpcId land. */
  readonly defaultVpcId = "vpc-0default0000000";
  /** The account's VPCs and subnets: the default VPC with one default subnet per zone, as a new account has. */
  readonly vpcs = new Map<string, Vpc>();
  readonly subnets = new Map<string, Subnet>();
  spotPrices: SpotPricePoint[] = [];
  /** Instances a pool (market + type) still has room for; unlimited when absent. */
  readonly capacity = new Map<string, number>();
  private launched = 0;

  constructor(
    readonly region: string,
    readonly zones: string[],
    readonly now: () => number,
    /** The address instances report as public: tests point it at an SSH server they run. */
    readonly publicIpFor: (n: number) => string = (n) => `198.51.100.${(n % 250) + 1}`,
  ) {
    this.vpcs.set(this.defaultVpcId, { id: this.defaultVpcId, cidr: "172.31.0.0/16", isDefault: true });
    zones.forEach((zone, i) => {
      const id = `subnet-0default${String(i).padStart(8, "0")}`;
      this.subnets.set(id, { id, vpcId: this.defaultVpcId, zone, cidr: `172.31.${i * 16}.0/20`, defaultForAz: true });
    });
  }

  /** An account whose default VPC was deleted (as many older or managed accounts are): its subnets go with it. */
  deleteDefaultVpc(): void {
    this.vpcs.delete(this.defaultVpcId);
    for (const [id, s] of this.subnets) if (s.vpcId === this.defaultVpcId) this.subnets.delete(id);
  }

  /** A VPC of the user's own with one subnet in `zone`; returns the subnet. */
  addSubnet(zone: string): Subnet {
    const vpc: Vpc = { id: this.newId("vpc"), cidr: "10.20.0.0/16", isDefault: false };
    this.vpcs.set(vpc.id, vpc);
    const subnet: Subnet = { id: this.newId("subnet"), vpcId: vpc.id, zone, cidr: "10.20.1.0/24", defaultForAz: false };
    this.subnets.set(subnet.id, subnet);
    return subnet;
  }

  newInstance(init: Omit<SimInstance, "id" | "state" | "launchTime" | "privateIp" | "publicIp">): SimInstance {
    const n = this.launched++;
    const inst: SimInstance = {
      ...init,
      id: `i-${hex(17)}`,
      state: "pending",
      launchTime: this.now(),
      privateIp: `10.0.${Math.floor(n / 250)}.${(n % 250) + 4}`,
      publicIp: this.publicIpFor(n),
    };
    if (inst.spot) inst.spotRequestId = `sir-${hex(8)}`;
    this.instances.set(inst.id, inst);
    return inst;
  }

  newReservationId(): string {
    return `r-${hex(17)}`;
  }

  newId(prefix: string, n = 17): string {
    return `${prefix}-${hex(n)}`;
  }

  setCapacity(instanceType: string, market: "spot" | "on-demand", n: number): void {
    this.capacity.set(`${market}:${instanceType}`, n);
  }

  available(instanceType: string, market: "spot" | "on-demand"): number {
    return this.capacity.get(`${market}:${instanceType}`) ?? Number.POSITIVE_INFINITY;
  }

  /** Take `n` from a pool's room (a negative `n` gives it back). */
  consume(instanceType: string, market: "spot" | "on-demand", n: number): void {
    const key = `${market}:${instanceType}`;
    const left = this.capacity.get(key);
    if (left !== undefined) this.capacity.set(key, left - n);
  }

  /** The latest spot price of a type in a zone, or undefined if the table has none. */
  spotPrice(instanceType: string, zone: string): number | undefined {
    let best: SpotPricePoint | undefined;
    for (const p of this.spotPrices)
      if (p.instanceType === instanceType && p.zone === zone && (!best || p.timestamp > best.timestamp)) best = p;
    return best?.price;
  }

  /** The zone where a spot type is cheapest (the first zone when no price is known). */
  cheapestZone(instanceType: string): string {
    let zone = this.zones[0] as string;
    let price = Number.POSITIVE_INFINITY;
    for (const z of this.zones) {
      const p = this.spotPrice(instanceType, z);
      if (p !== undefined && p < price) [zone, price] = [z, p];
    }
    return zone;
  }

  /** Instances move on once somebody looks: pending → running, shutting-down → terminated. */
  advance(): void {
    for (const i of this.instances.values()) {
      if (i.state === "pending") i.state = "running";
      else if (i.state === "shutting-down") i.state = "terminated";
      else if (i.state === "stopping") i.state = "stopped";
    }
  }

  /** The control plane reclaims a spot instance (what `describe` shows after an interruption). */
  interrupt(id: string): void {
    const i = this.instances.get(id);
    if (!i) throw new Error(`no instance ${id}`);
    i.state = "terminated";
    i.stateReason = {
      code: "Server.SpotInstanceTermination",
      message: "Server.SpotInstanceTermination: Spot instance termination",
    };
  }

  static fingerprint(publicKey: string): string {
    return createHash("md5").update(publicKey).digest("hex").match(/../g)?.join(":") ?? "";
  }
}
