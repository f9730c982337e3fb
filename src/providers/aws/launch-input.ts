import type {
  _InstanceType,
  CreateFleetCommandInput,
  CreateLaunchTemplateCommandInput,
  RunInstancesCommandInput,
  Tag,
  TagSpecification,
} from "@aws-sdk/client-ec2";
import type { Resources } from "../../spec/task-schema.js";

/**
 * Pure builders of the EC2 requests for one launch, so what goes on the wire is decided in one
 * place and unit-testable. One type → RunInstances; several → an instant CreateFleet over a
 * launch template holding what overrides cannot carry (user data, key, image, tags).
 */
export type InterruptionBehavior = "terminate" | "stop" | "hibernate";

export interface LaunchPlan {
  token: string;
  instanceTypes: string[];
  spot: boolean;
  /** USD per hour as EC2 wants it: a decimal string. */
  maxPrice?: string;
  zone?: string;
  count: number;
  imageId: string;
  keyName?: string;
  /** Base64 of the user data script. */
  userData: string;
  tags: Record<string, string>;
  interruption: InterruptionBehavior;
  diskGb?: number;
  securityGroupIds?: string[];
  subnetId?: string;
  /** Instance profile (role) the agent uses for S3 checkpoints and s3:// checkpoint scripts. */
  instanceProfile?: string;
  /**
   * A spot instance that hibernates on interruption: EC2 wants it configured for hibernation at
   * launch, with an encrypted root volume that holds its RAM (rootGb already counts the RAM).
   */
  hibernation?: { rootGb: number };
}

/** Root volume size for a hibernating instance: the disk asked for (or the image's 8 GiB) plus room for the RAM. */
export const hibernationRootGb = (diskGb: number | undefined, memoryMiB: number): number =>
  Math.ceil(diskGb ?? 8) + Math.ceil(memoryMiB / 1024);

/** `checkpoint` means "let our agent checkpoint, then let EC2 terminate": the machine goes either way. */
export function interruptionBehavior(on: Resources["on_interruption"]): InterruptionBehavior {
  return on === "hibernate" ? "hibernate" : on === "stop" ? "stop" : "terminate";
}

/** EC2 takes prices as decimal strings; avoid `1e-7` forms and float noise. */
export const priceString = (usd: number): string => usd.toFixed(6).replace(/0+$/, "").replace(/\.$/, "");

/** Graviton families (m7g, c7gn, t4g, g5g, r8g…) need arm64 images. */
export const isArm64Type = (t: string): boolean => /^[a-z]+\d+g[a-z]*\./.test(t);

/** Ubuntu 24.04 LTS via the public SSM parameter, resolved by EC2 itself at launch. */
export const defaultImage = (instanceType: string): string =>
  `resolve:ssm:/aws/service/canonical/ubuntu/server/24.04/stable/current/${isArm64Type(instanceType) ? "arm64" : "amd64"}/hvm/ebs-gp3/ami-id`;

const tagList = (tags: Record<string, string>): Tag[] => Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
const tagSpecs = (types: TagSpecification["ResourceType"][], tags: Record<string, string>): TagSpecification[] =>
  types.map((ResourceType) => ({ ResourceType, Tags: tagList(tags) }));

/** Stop and hibernate need a persistent request (EC2 rejects them on one-time ones). */
const spotRequestType = (b: InterruptionBehavior) => (b === "terminate" ? "one-time" : "persistent");

const rootDisk = (diskGb: number | undefined, encrypted = false) =>
  diskGb
    ? [
        {
          DeviceName: "/dev/sda1",
          Ebs: {
            VolumeSize: Math.ceil(diskGb),
            VolumeType: "gp3" as const,
            DeleteOnTermination: true,
            ...(encrypted ? { Encrypted: true } : {}),
          },
        },
      ]
    : undefined;

export function runInstancesInput(plan: LaunchPlan): RunInstancesCommandInput {
  const type = plan.instanceTypes[0] as string;
  return {
    ClientToken: plan.token,
    ImageId: plan.imageId,
    InstanceType: type as _InstanceType,
    MinCount: plan.count,
    MaxCount: plan.count,
    KeyName: plan.keyName,
    UserData: plan.userData,
    Placement: plan.zone ? { AvailabilityZone: plan.zone } : undefined,
    SecurityGroupIds: plan.securityGroupIds,
    SubnetId: plan.subnetId,
    IamInstanceProfile: plan.instanceProfile ? { Name: plan.instanceProfile } : undefined,
    BlockDeviceMappings: plan.hibernation ? rootDisk(plan.hibernation.rootGb, true) : rootDisk(plan.diskGb),
    ...(plan.hibernation ? { HibernationOptions: { Configured: true } } : {}),
    InstanceMarketOptions: plan.spot
      ? {
          MarketType: "spot",
          SpotOptions: {
            MaxPrice: plan.maxPrice,
            SpotInstanceType: spotRequestType(plan.interruption),
            InstanceInterruptionBehavior: plan.interruption,
          },
        }
      : undefined,
    MetadataOptions: { HttpTokens: "required", HttpEndpoint: "enabled", HttpPutResponseHopLimit: 2 },
    TagSpecifications: tagSpecs(plan.spot ? ["instance", "volume", "spot-instances-request"] : ["instance", "volume"], plan.tags),
  };
}

/** Launch template names allow [a-zA-Z0-9().\-/_]; tokens already fit, and stay unique per launch. */
export const launchTemplateName = (token: string): string => token.replace(/[^a-zA-Z0-9().\-/_]/g, "_").slice(0, 128);

export function launchTemplateInput(plan: LaunchPlan): CreateLaunchTemplateCommandInput {
  return {
    ClientToken: plan.token,
    LaunchTemplateName: launchTemplateName(plan.token),
    LaunchTemplateData: {
      ImageId: plan.imageId,
      KeyName: plan.keyName,
      UserData: plan.userData,
      SecurityGroupIds: plan.securityGroupIds,
      IamInstanceProfile: plan.instanceProfile ? { Name: plan.instanceProfile } : undefined,
      BlockDeviceMappings: rootDisk(plan.diskGb),
      MetadataOptions: { HttpTokens: "required", HttpEndpoint: "enabled", HttpPutResponseHopLimit: 2 },
      TagSpecifications: tagSpecs(["instance", "volume"], plan.tags),
    },
    TagSpecifications: tagSpecs(["launch-template"], plan.tags),
  };
}

export function createFleetInput(plan: LaunchPlan, templateName: string): CreateFleetCommandInput {
  const market = plan.spot ? "spot" : "on-demand";
  return {
    ClientToken: plan.token,
    Type: "instant",
    LaunchTemplateConfigs: [
      {
        LaunchTemplateSpecification: { LaunchTemplateName: templateName, Version: "$Latest" },
        Overrides: plan.instanceTypes.map((t, i) => ({
          InstanceType: t as _InstanceType,
          MaxPrice: plan.spot ? plan.maxPrice : undefined,
          AvailabilityZone: plan.zone,
          SubnetId: plan.subnetId,
          // Used by the on-demand side (prioritized): the user's order is the preference.
          Priority: i,
        })),
      },
    ],
    TargetCapacitySpecification: {
      TotalTargetCapacity: plan.count,
      SpotTargetCapacity: plan.spot ? plan.count : 0,
      OnDemandTargetCapacity: plan.spot ? 0 : plan.count,
      DefaultTargetCapacityType: market,
    },
    SpotOptions: plan.spot
      ? {
          AllocationStrategy: "price-capacity-optimized",
          InstanceInterruptionBehavior: "terminate",
          // Nodes of one attempt are all-or-nothing and belong together.
          ...(plan.count > 1 ? { MinTargetCapacity: plan.count, SingleAvailabilityZone: true } : {}),
        }
      : undefined,
    OnDemandOptions: plan.spot
      ? undefined
      : {
          AllocationStrategy: "prioritized",
          ...(plan.count > 1 ? { MinTargetCapacity: plan.count, SingleAvailabilityZone: true } : {}),
        },
    TagSpecifications: tagSpecs(["instance", "fleet"], plan.tags),
  };
}
