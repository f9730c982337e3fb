import { existsSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { isAbsolute, join } from "node:path";
import {
  type _InstanceType,
  CreateFleetCommand,
  type CreateFleetCommandOutput,
  CreateLaunchTemplateCommand,
  DeleteLaunchTemplateCommand,
  DescribeInstanceTypesCommand,
  type EC2Client,
  type Filter,
  type Instance,
  type InstanceTypeInfo,
  paginateDescribeInstances,
  RunInstancesCommand,
  TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import { type Clock, systemClock } from "../../base/clock.js";
import { SpotrunError, usageError } from "../../base/errors.js";
import { InstanceId } from "../../base/ids.js";
import type { Logger } from "../../base/logger.js";
import type { Random } from "../../base/random.js";
import type { Resources } from "../../spec/task-schema.js";
import { dropHostPins, hostPinPath } from "../../transport/ssh/host-pins.js";
import type { SshTarget } from "../../transport/ssh/ssh-target.js";
import type { Transport } from "../../transport/transport.js";
import { type ApiCallCounts, type ApiCallListener, ApiCallMeter } from "../api-calls.js";
import { type CallBudget, processCallBudget } from "../call-budget.js";
import type { BootMarkers, InstanceInfo, LaunchRequest, LaunchResult, Offer, Provider } from "../provider.js";
import { ProviderError, TAG } from "../provider.js";
import { awsErrorFacts, fixForAwsCode, refusalOf, toProviderError } from "./aws-error.js";
import { addCallBudget } from "./budget-middleware.js";
import { createEc2Client, QUICK_RETRY_POLICY } from "./ec2-client.js";
import { toInstanceInfo } from "./instance-info.js";
import { InstanceRegions } from "./instance-regions.js";
import { ensureImported, type LocalKeyPair, localKeyPair } from "./key-pair.js";
import {
  createFleetInput,
  defaultImage,
  hibernationRootGb,
  interruptionBehavior,
  type LaunchPlan,
  launchTemplateInput,
  launchTemplateName,
  priceString,
  runInstancesInput,
} from "./launch-input.js";
import { loadOnDemandCatalog, type OnDemandCatalog, onDemandPrice } from "./on-demand-catalog.js";
import type { RetryPolicy } from "./retry-strategy.js";
import { ensureSshSecurityGroup } from "./security-group.js";
import { latestSpotPrices, type SpotPool } from "./spot-prices.js";
import { BOOT_FAILED, BOOT_LOG, BOOT_READY, type SpotConfig, userDataScript } from "./user-data.js";

/** Tags the AWS provider adds so it can reach the instance later (who logs in, with which key). */
export const AWS_TAG = { sshUser: "spotrun:ssh-user", keyName: "spotrun:key-name" } as const;

const DEFAULT_TYPE = "m7i.large";
const SPOT_PRICE_TTL_MS = 5 * 60_000;
/** EC2 user data is at most 16 KiB before base64; the bootstrap takes about 3. */
const MAX_EMBEDDED_SCRIPT = 12 * 1024;
/** EC2 tag values are at most 256 characters. */
const tagValue = (v: string) => v.slice(0, 256);

export interface AwsProviderOptions {
  home: string;
  logger: Logger;
  /** A client to use for every region (tests point one at the in-repo server). */
  ec2?: EC2Client;
  clock?: Clock;
  random?: Random;
  retry?: RetryPolicy;
  /** Per-request timeout of the EC2 clients (default EC2_REQUEST_TIMEOUT_MS). */
  requestTimeoutMs?: number;
  /** The spotrun version instances install; the running one by default. */
  spotrunVersion?: string;
  /** Network placement the task schema does not carry yet (env SPOTRUN_AWS_SECURITY_GROUP_IDS / SPOTRUN_AWS_SUBNET_ID). */
  securityGroupIds?: string[];
  subnetId?: string;
  /** Instance profile name for the agent's S3 access (env SPOTRUN_AWS_INSTANCE_PROFILE). */
  instanceProfile?: string;
  /** Who may SSH in when spotrun makes its own security group (env SPOTRUN_AWS_SSH_CIDR; default anywhere, key-only). */
  sshCidr?: string;
  /** Told of every EC2 request (each attempt) with its outcome. */
  onApiCall?: ApiCallListener;
  /** The call budget to draw from; default the process's. */
  budget?: CallBudget;
}

/** DescribeInstances takes at most 200 values per filter and returns at most 1,000 instances a page. */
export const MAX_FILTER_VALUES = 200;
export const MAX_RESULTS = 1000;

export class AwsProvider implements Provider {
  readonly kind = "aws" as const;
  readonly noticeSource = "aws-imds" as const;
  /** EC2's answer changes in seconds, and DescribeInstances is budgeted: every 10 s is enough at steady state. */
  readonly pollIntervalMs = 10_000;
  private readonly clock: Clock;
  private readonly meter: ApiCallMeter;
  private readonly clients = new Map<string, EC2Client>();
  private readonly quickClients = new Map<string, EC2Client>();
  private readonly ownedClients: EC2Client[] = [];
  private catalog: OnDemandCatalog | undefined;
  private readonly spotCache = new Map<string, { at: number; pools: SpotPool[] }>();
  private readonly importedKeys = new Map<string, Promise<LocalKeyPair>>();
  private readonly instanceRegions: InstanceRegions;
  private readonly sshGroups = new Map<string, Promise<string>>();

  constructor(private readonly opts: AwsProviderOptions) {
    this.clock = opts.clock ?? systemClock;
    this.instanceRegions = new InstanceRegions(opts.home);
    this.meter = new ApiCallMeter("aws", opts.budget ?? processCallBudget(), opts.onApiCall);
    const given = opts.ec2;
    if (given) addCallBudget(given, this.meter, () => given.config.region());
  }

  apiCalls(): ApiCallCounts {
    return this.meter.counts();
  }

  private client(region?: string, quick = false): EC2Client {
    if (this.opts.ec2) return this.opts.ec2;
    const key = region ?? "";
    const cache = quick ? this.quickClients : this.clients;
    let c = cache.get(key);
    if (!c) {
      c = createEc2Client({
        region,
        clock: this.opts.clock,
        random: this.opts.random,
        retry: quick ? QUICK_RETRY_POLICY : this.opts.retry,
        requestTimeoutMs: this.opts.requestTimeoutMs,
        meter: this.meter,
      });
      cache.set(key, c);
      this.ownedClients.push(c);
    }
    return c;
  }

  private async regionOf(ec2: EC2Client): Promise<string> {
    try {
      return await ec2.config.region();
    } catch {
      throw usageError(
        "no AWS region configured",
        "set AWS_REGION, pass --region, or set region in ~/.aws/config",
        "RegionMissing",
      );
    }
  }

  private async onDemand(region: string, type: string): Promise<number | undefined> {
    this.catalog ??= await loadOnDemandCatalog(this.opts.home);
    return onDemandPrice(this.catalog, region, type);
  }

  /** Latest spot prices of these types in the client's region, cached for a few minutes. */
  private async spotPools(ec2: EC2Client, region: string, types: string[]): Promise<SpotPool[]> {
    const key = `${region}\u0000${[...types].sort().join(",")}`;
    const hit = this.spotCache.get(key);
    const now = this.clock.now();
    if (hit && now - hit.at < SPOT_PRICE_TTL_MS) return hit.pools;
    let pools: SpotPool[];
    try {
      pools = await latestSpotPrices(ec2, types, now);
    } catch (e) {
      throw toProviderError(e, "DescribeSpotPriceHistory");
    }
    this.spotCache.set(key, { at: now, pools });
    return pools;
  }

  async offers(resources: Resources, opts: { quick?: boolean } = {}): Promise<Offer[]> {
    const types = resources.instance_types ?? [resources.instance_type ?? DEFAULT_TYPE];
    const ec2 = this.client(resources.region, opts.quick);
    const region = resources.region ?? (await this.regionOf(ec2));
    const pools = (await this.spotPools(ec2, region, types)).filter((p) => !resources.zone || p.zone === resources.zone);
    const out: Offer[] = [];
    for (const type of types) {
      const od = await this.onDemand(region, type);
      if (resources.spot)
        for (const p of pools.filter((x) => x.instanceType === type)) {
          if (resources.max_price !== undefined && p.price > resources.max_price) continue;
          out.push({
            provider: "aws",
            id: `aws:${region}:${p.zone}:${type}:spot`,
            instanceType: type,
            region,
            zone: p.zone,
            spot: true,
            pricePerHour: p.price,
            onDemandPricePerHour: od ?? p.price,
            detail: { price_at: new Date(p.timestamp).toISOString(), on_demand_price_known: od !== undefined },
          });
        }
      if (od !== undefined)
        out.push({
          provider: "aws",
          id: `aws:${region}:${type}:on-demand`,
          instanceType: type,
          region,
          ...(resources.zone ? { zone: resources.zone } : {}),
          spot: false,
          pricePerHour: od,
          onDemandPricePerHour: od,
        });
    }
    return out.sort((a, b) => a.pricePerHour - b.pricePerHour);
  }

  /** What EC2 would refuse for sure, said before a job is recorded (exit 2, with the field). */
  validateResources(r: Resources): void {
    const types = r.instance_types ?? (r.instance_type ? [r.instance_type] : []);
    for (const t of types)
      if (!/^[a-z][a-z0-9-]*\.[a-z0-9-]+$/.test(t))
        throw usageError(`resources.instance_type ${t} is not an EC2 instance type`, "write it like m7i.large or g5.xlarge");
    if (r.max_price !== undefined && r.max_price <= 0.001)
      throw usageError(`resources.max_price ${r.max_price} is too low for EC2`, "give USD per hour above 0.001");
    if (types.length > 1 && r.spot && (r.on_interruption === "stop" || r.on_interruption === "hibernate"))
      throw usageError(
        `resources.on_interruption ${r.on_interruption} with several instance types`,
        "EC2 fleets can only terminate on interruption: give one instance_type, or use checkpoint/terminate",
      );
    if (r.region !== undefined && !/^[a-z]{2}(-gov)?-[a-z]+-\d$/.test(r.region))
      throw usageError(`resources.region ${r.region} is not an AWS region`, "write it like us-east-1");
    if (r.zone !== undefined && r.region !== undefined && !r.zone.startsWith(r.region))
      throw usageError(`resources.zone ${r.zone} is not in region ${r.region}`, "give a zone of that region, like us-east-1a");
  }

  private keyFor(ec2: EC2Client, region: string): Promise<LocalKeyPair> {
    let p = this.importedKeys.get(region);
    if (!p) {
      p = (async () => {
        const key = await localKeyPair(this.opts.home);
        await ensureImported(ec2, key, { "spotrun:purpose": "ssh" });
        return key;
      })();
      // A failed import is not cached: the next launch tries again.
      p.catch(() => this.importedKeys.delete(region));
      this.importedKeys.set(region, p);
    }
    return p;
  }

  /**
   * Security groups for a launch: the user's, or (in the default VPC, when no subnet is named)
   * the `spotrun-ssh` group made once per region.
   */
  private async securityGroups(
    ec2: EC2Client,
    region: string,
    subnetId: string | undefined,
    aws: Resources["aws"],
  ): Promise<string[] | undefined> {
    const given =
      aws?.security_group_ids ??
      this.opts.securityGroupIds ??
      process.env.SPOTRUN_AWS_SECURITY_GROUP_IDS?.split(",").filter(Boolean);
    if (given?.length) return given;
    if (subnetId) return undefined;
    let p = this.sshGroups.get(region);
    if (!p) {
      p = ensureSshSecurityGroup(ec2, aws?.ssh_cidr ?? this.opts.sshCidr ?? process.env.SPOTRUN_AWS_SSH_CIDR ?? "0.0.0.0/0", {
        "spotrun:purpose": "ssh",
      });
      p.catch(() => this.sshGroups.delete(region));
      this.sshGroups.set(region, p);
    }
    return [await p];
  }

  async launch(req: LaunchRequest): Promise<LaunchResult> {
    const r = req.resources;
    const types = req.offer ? [req.offer.instanceType] : req.instanceTypes;
    if (types.length === 0) throw usageError("no instance type to launch", "set resources.instance_type or --instance-type");
    const spot = req.offer ? req.offer.spot : req.spot;
    const region = req.offer?.region ?? req.region ?? r.region;
    const zone = req.offer?.zone ?? req.zone ?? r.zone;
    const ec2 = this.client(region);
    const regionName = region ?? (await this.regionOf(ec2));
    const maxPrice =
      spot && (req.maxPrice ?? r.max_price) !== undefined ? priceString((req.maxPrice ?? r.max_price) as number) : undefined;
    const interruption = interruptionBehavior(r.on_interruption);
    if (types.length > 1 && spot && interruption !== "terminate")
      return {
        kind: "refused",
        refusal: "unsupported",
        code: "spotrun.FleetInterruptionBehavior",
        message: `on_interruption ${r.on_interruption} needs a persistent request; instant fleets (several instance types) only terminate — give one instance type`,
      };

    let hibernation: LaunchPlan["hibernation"];
    if (spot && interruption === "hibernate") {
      const type = types[0] as string;
      const facts = await this.instanceTypeFacts(ec2, type);
      if (!facts.hibernationSupported)
        return {
          kind: "refused",
          refusal: "unsupported",
          code: "spotrun.HibernationUnsupported",
          message: `${type} does not support hibernation — use --on-interruption stop, or a type that hibernates (m7i, c7i, r7i, t3, …)`,
        };
      hibernation = { rootGb: hibernationRootGb(r.disk, facts.memoryMiB) };
    }

    let keyName = r.key_name;
    // The default image is Ubuntu; a custom image names its login user (tag or env).
    const sshUser =
      req.tags[AWS_TAG.sshUser] ?? r.aws?.ssh_user ?? (r.image ? process.env.SPOTRUN_AWS_SSH_USER : undefined) ?? "ubuntu";
    if (!keyName) keyName = (await this.keyFor(ec2, regionName)).keyName;
    const checkpointScript = req.tags[TAG.checkpointScript] ?? "";
    // The task's own settings first; the environment for what a whole machine shares.
    const subnetId = r.aws?.subnet_id ?? this.opts.subnetId ?? process.env.SPOTRUN_AWS_SUBNET_ID;
    const tags: Record<string, string> = {
      ...req.tags,
      [TAG.spot]: String(spot),
      [TAG.maxPrice]: maxPrice ?? "",
      [TAG.onInterruption]: r.on_interruption,
      [TAG.checkpointScript]: tagValue(checkpointScript),
      [AWS_TAG.sshUser]: sshUser,
      [AWS_TAG.keyName]: keyName,
    };
    const config: SpotConfig = {
      provider: "aws",
      spot,
      on_interruption: r.on_interruption,
      checkpoint_script: checkpointScript || null,
      checkpoint_timeout_s: 90,
      max_price_usd: maxPrice !== undefined ? Number(maxPrice) : null,
      job_id: req.tags[TAG.job] ?? null,
      attempt_id: req.tags[TAG.attempt] ?? null,
    };
    const plan: LaunchPlan = {
      token: req.token,
      instanceTypes: types,
      spot,
      maxPrice,
      zone,
      count: req.count,
      imageId: r.image ?? defaultImage(types[0] as string),
      keyName,
      userData: Buffer.from(
        userDataScript({
          config,
          sshUser,
          checkpointScriptBody: await this.localScript(checkpointScript),
        }),
      ).toString("base64"),
      tags,
      interruption,
      diskGb: r.disk,
      securityGroupIds: await this.securityGroups(ec2, regionName, subnetId, r.aws),
      subnetId,
      instanceProfile: r.aws?.instance_profile ?? this.opts.instanceProfile ?? process.env.SPOTRUN_AWS_INSTANCE_PROFILE,
      ...(hibernation ? { hibernation } : {}),
    };
    this.opts.logger.info({ token: req.token, types, spot, maxPrice, count: req.count, region: regionName }, "aws launch");
    const result = types.length === 1 ? await this.runInstances(ec2, regionName, plan) : await this.fleet(ec2, regionName, plan);
    if (result.kind === "launched")
      await this.instanceRegions.remember(
        result.instances.map((i) => i.id),
        regionName,
        this.clock.now(),
      );
    return result;
  }

  /** Memory and hibernation support of an instance type, from DescribeInstanceTypes. */
  private async instanceTypeFacts(ec2: EC2Client, type: string): Promise<{ memoryMiB: number; hibernationSupported: boolean }> {
    let info: InstanceTypeInfo | undefined;
    try {
      info = (await ec2.send(new DescribeInstanceTypesCommand({ InstanceTypes: [type as _InstanceType] }))).InstanceTypes?.[0];
    } catch (e) {
      throw toProviderError(e, "DescribeInstanceTypes");
    }
    if (!info?.MemoryInfo?.SizeInMiB)
      throw new ProviderError("aws", "InvalidInstanceType", `aws DescribeInstanceTypes: no facts for ${type}`, false, {
        fix: fixForAwsCode("InvalidInstanceType", false),
      });
    return { memoryMiB: info.MemoryInfo.SizeInMiB, hibernationSupported: info.HibernationSupported === true };
  }

  /** A checkpoint script on this machine travels inside the user data; s3:// and remote paths are the agent's to fetch. */
  private async localScript(path: string): Promise<string | undefined> {
    if (!path || !isAbsolute(path) || !existsSync(path)) return undefined;
    const size = (await stat(path)).size;
    if (size > MAX_EMBEDDED_SCRIPT)
      throw usageError(
        `checkpoint script ${path} is ${size} bytes, more than EC2 user data can carry (${MAX_EMBEDDED_SCRIPT})`,
        "upload it to S3 and pass --checkpoint-script s3://bucket/key",
      );
    return readFile(path, "utf8");
  }

  private async runInstances(ec2: EC2Client, region: string, plan: LaunchPlan): Promise<LaunchResult> {
    try {
      const res = await ec2.send(new RunInstancesCommand(runInstancesInput(plan)));
      return { kind: "launched", instances: await this.infos(ec2, region, res.Instances ?? []) };
    } catch (e) {
      return this.refusedOrThrow(e, "RunInstances");
    }
  }

  private refusedOrThrow(e: unknown, operation: string): LaunchResult {
    const f = awsErrorFacts(e);
    const refusal = refusalOf(f.code);
    if (refusal) {
      this.opts.logger.info({ code: f.code, refusal }, `aws ${operation} refused`);
      return { kind: "refused", refusal, code: f.code, message: f.message };
    }
    throw toProviderError(e, operation);
  }

  private async fleet(ec2: EC2Client, region: string, plan: LaunchPlan): Promise<LaunchResult> {
    const template = launchTemplateName(plan.token);
    try {
      await ec2.send(new CreateLaunchTemplateCommand(launchTemplateInput(plan)));
    } catch (e) {
      // A restarted controller replays the same token: the template from last time is ours.
      if (awsErrorFacts(e).code !== "InvalidLaunchTemplateName.AlreadyExistsException")
        throw toProviderError(e, "CreateLaunchTemplate");
    }
    let res: CreateFleetCommandOutput;
    try {
      res = await ec2.send(new CreateFleetCommand(createFleetInput(plan, template)));
    } catch (e) {
      await this.deleteTemplate(ec2, template);
      return this.refusedOrThrow(e, "CreateFleet");
    }
    await this.deleteTemplate(ec2, template);
    const errors = res.Errors ?? [];
    for (const err of errors)
      this.opts.logger.info(
        { code: err.ErrorCode, type: err.LaunchTemplateAndOverrides?.Overrides?.InstanceType, lifecycle: err.Lifecycle },
        "aws fleet pool refused",
      );
    const launched = (res.Instances ?? []).flatMap((fi) =>
      (fi.InstanceIds ?? []).map(
        (id): Instance => ({
          InstanceId: id,
          InstanceType: fi.InstanceType,
          Placement: { AvailabilityZone: fi.AvailabilityZone ?? fi.LaunchTemplateAndOverrides?.Overrides?.AvailabilityZone },
          InstanceLifecycle: fi.Lifecycle === "spot" ? "spot" : undefined,
          State: { Name: "pending", Code: 0 },
          LaunchTime: new Date(this.clock.now()),
          Tags: Object.entries(plan.tags).map(([Key, Value]) => ({ Key, Value })),
        }),
      ),
    );
    if (launched.length >= plan.count) return { kind: "launched", instances: await this.infos(ec2, region, launched) };
    if (launched.length > 0) {
      // Nodes of one attempt are all-or-nothing: give back the part we got.
      await this.terminateIn(
        ec2,
        launched.map((i) => InstanceId(i.InstanceId as string)),
      );
    }
    const codes = errors.map((e) => e.ErrorCode ?? "Unknown");
    const classified = codes.map((c) => ({ code: c, refusal: refusalOf(c) })).filter((c) => c.refusal);
    const pick = classified.find((c) => c.refusal === "capacity") ?? classified[0];
    if (pick?.refusal) {
      const first = errors.find((e) => e.ErrorCode === pick.code);
      return {
        kind: "refused",
        refusal: pick.refusal,
        code: pick.code,
        message: `fleet got ${launched.length}/${plan.count}: ${errors.map((e) => `${e.LaunchTemplateAndOverrides?.Overrides?.InstanceType ?? "?"} ${e.ErrorCode}`).join(", ")}${first?.ErrorMessage ? ` (${first.ErrorMessage})` : ""}`,
      };
    }
    throw toProviderError(
      Object.assign(new Error(`fleet launched ${launched.length}/${plan.count}: ${codes.join(", ") || "no errors reported"}`), {
        name: codes[0] ?? "FleetUnfulfilled",
        $metadata: {},
      }),
      "CreateFleet",
    );
  }

  private async deleteTemplate(ec2: EC2Client, name: string): Promise<void> {
    try {
      await ec2.send(new DeleteLaunchTemplateCommand({ LaunchTemplateName: name }));
    } catch (e) {
      this.opts.logger.warn(
        { code: awsErrorFacts(e).code, template: name },
        "could not delete launch template; the reaper removes it",
      );
    }
  }

  private async infos(ec2: EC2Client, region: string, instances: Instance[]): Promise<InstanceInfo[]> {
    const spotTypes = [...new Set(instances.filter((i) => i.InstanceLifecycle === "spot").map((i) => i.InstanceType as string))];
    let pools: SpotPool[] = [];
    if (spotTypes.length) {
      try {
        pools = await this.spotPools(ec2, region, spotTypes);
      } catch (e) {
        // Info, not a warning: whoever asked for prices (an estimate, an offer) has already said they failed.
        this.opts.logger.info({ err: (e as Error).message }, "spot prices unavailable; spot instances priced at on-demand");
      }
    }
    const od = new Map<string, number | undefined>();
    for (const i of instances)
      if (i.InstanceType && !od.has(i.InstanceType)) od.set(i.InstanceType, await this.onDemand(region, i.InstanceType));
    const now = this.clock.now();
    return instances.map((i) =>
      toInstanceInfo(i, {
        region,
        now,
        price: (type, zone, spot) => {
          const onDemand = od.get(type);
          const spotPrice = pools.find((p) => p.instanceType === type && p.zone === zone)?.price;
          const price = spot ? (spotPrice ?? onDemand ?? 0) : (onDemand ?? 0);
          return { price, onDemand: onDemand ?? price };
        },
      }),
    );
  }

  private async describeBy(ec2: EC2Client, filters: Filter[]): Promise<InstanceInfo[]> {
    const region = await this.regionOf(ec2);
    const found: Instance[] = [];
    try {
      for await (const page of paginateDescribeInstances({ client: ec2, pageSize: MAX_RESULTS }, { Filters: filters }))
        for (const r of page.Reservations ?? []) found.push(...(r.Instances ?? []));
    } catch (e) {
      throw toProviderError(e, "DescribeInstances");
    }
    return this.infos(ec2, region, found);
  }

  /** Ids grouped by the region they were launched in (the default region when not known). */
  private async byRegion(ids: InstanceId[]): Promise<Map<string | undefined, InstanceId[]>> {
    const known = await this.instanceRegions.lookup(ids);
    const out = new Map<string | undefined, InstanceId[]>();
    for (const id of ids) {
      const r = this.opts.ec2 ? undefined : known.get(id);
      out.set(r, [...(out.get(r) ?? []), id]);
    }
    return out;
  }

  async describe(ids: InstanceId[]): Promise<InstanceInfo[]> {
    if (ids.length === 0) return [];
    const out: InstanceInfo[] = [];
    for (const [region, group] of await this.byRegion(ids)) {
      const ec2 = this.client(region);
      // A filter (not InstanceIds) so one id that is long gone does not fail the whole call.
      for (let i = 0; i < group.length; i += MAX_FILTER_VALUES)
        out.push(...(await this.describeBy(ec2, [{ Name: "instance-id", Values: group.slice(i, i + MAX_FILTER_VALUES) }])));
    }
    return out;
  }

  /** Every instance with these tags in the default region and every region spotrun launched in. */
  async list(tags: Record<string, string>): Promise<InstanceInfo[]> {
    return this.listWith(tags, []);
  }

  /** EC2 filters on the state server-side: a fleet that runs costs one page, not one per 1,000 instances. */
  async listUnsettled(tags: Record<string, string>): Promise<InstanceInfo[]> {
    return this.listWith(tags, [
      { Name: "instance-state-name", Values: ["pending", "shutting-down", "terminated", "stopping", "stopped"] },
    ]);
  }

  private async listWith(tags: Record<string, string>, more: Filter[]): Promise<InstanceInfo[]> {
    const filters: Filter[] = Object.entries(tags).map(([k, v]) => ({ Name: `tag:${k}`, Values: [v] }));
    if (filters.length === 0) filters.push({ Name: "tag-key", Values: [TAG.job] });
    filters.push(...more);
    const regions: (string | undefined)[] = this.opts.ec2 ? [undefined] : [undefined, ...(await this.instanceRegions.regions())];
    const seen = new Map<string, InstanceInfo>();
    const queried = new Set<string>();
    for (const region of regions) {
      const ec2 = this.client(region);
      const name = await this.regionOf(ec2);
      if (queried.has(name)) continue;
      queried.add(name);
      for (const i of await this.describeBy(ec2, filters)) seen.set(i.id, i);
    }
    return [...seen.values()];
  }

  async terminate(ids: InstanceId[]): Promise<void> {
    for (const [region, group] of await this.byRegion(ids)) await this.terminateIn(this.client(region), group);
    await dropHostPins(join(this.opts.home, "ssh"), ids);
  }

  private async terminateIn(ec2: EC2Client, ids: InstanceId[]): Promise<void> {
    if (ids.length === 0) return;
    try {
      await ec2.send(new TerminateInstancesCommand({ InstanceIds: ids }));
    } catch (e) {
      if (awsErrorFacts(e).code !== "InvalidInstanceID.NotFound") throw toProviderError(e, "TerminateInstances");
      // One of them is already gone (EC2 forgets terminated instances): terminate the rest one by one.
      for (const id of ids) {
        try {
          await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
        } catch (err) {
          if (awsErrorFacts(err).code !== "InvalidInstanceID.NotFound") throw toProviderError(err, "TerminateInstances");
        }
      }
    }
  }

  async transport(instance: InstanceInfo): Promise<Transport> {
    const { connectSsh } = await import("../../transport/ssh/connect.js");
    return connectSsh(await this.sshTarget(instance), { logger: this.opts.logger, clock: this.clock });
  }

  async sshTarget(instance: InstanceInfo): Promise<SshTarget> {
    if (!instance.address)
      throw new SpotrunError("failed", `instance ${instance.id} has no address yet`, {
        fix: "wait until it is running, then retry",
      });
    const colon = instance.address.lastIndexOf(":");
    const host = instance.address.slice(0, colon);
    const port = Number(instance.address.slice(colon + 1)) || 22;
    const user = instance.tags[AWS_TAG.sshUser] ?? "ubuntu";
    const keyName = instance.tags[AWS_TAG.keyName];
    const local = await localKeyPair(this.opts.home);
    let privateKeyPath: string | undefined;
    if (keyName === local.keyName) privateKeyPath = local.privateKeyPath;
    else if (keyName && existsSync(join(homedir(), ".ssh", `${keyName}.pem`)))
      privateKeyPath = join(homedir(), ".ssh", `${keyName}.pem`);
    return {
      host,
      port,
      user,
      ...(privateKeyPath ? { privateKeyPath } : {}),
      knownHostsPath: hostPinPath(join(this.opts.home, "ssh"), instance.id),
      label: `ssh:${user}@${host}:${port} (${instance.id})`,
    };
  }

  agentEnv(_instance: InstanceInfo): Record<string, string> {
    return {};
  }

  /** The agent starts once the user data has written the spot configuration (the controller may log in first). */
  bootMarkers(): BootMarkers | undefined {
    return { ready: BOOT_READY, failed: BOOT_FAILED, log: BOOT_LOG, waitSeconds: 600 };
  }

  async close(): Promise<void> {
    for (const c of this.ownedClients) c.destroy();
    this.ownedClients.length = 0;
    this.clients.clear();
  }
}
