import { join } from "node:path";
import {
  CreateLaunchTemplateCommand,
  CreateSecurityGroupCommand,
  DescribeAvailabilityZonesCommand,
  DescribeInstancesCommand,
  DescribeKeyPairsCommand,
  DescribeLaunchTemplatesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSpotPriceHistoryCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  type EC2Client,
  ImportKeyPairCommand,
  RunInstancesCommand,
} from "@aws-sdk/client-ec2";
import { GetProductsCommand } from "@aws-sdk/client-pricing";
import type { CheckOutcome, SetupCheck } from "../setup-check.js";
import { awsErrorFacts, fixForAwsCode } from "./aws-error.js";
import { createEc2Client, QUICK_RETRY_POLICY } from "./ec2-client.js";
import { ensureImported, existingLocalKeyPair, keyDir, localKeyPair } from "./key-pair.js";
import { defaultImage } from "./launch-input.js";
import { createPricingClient } from "./pricing-catalog.js";

/**
 * `spotrun setup` for AWS: credentials, region, where instances go (the default VPC, or the
 * configured subnet and its security groups), the SSH key pair, and the IAM actions of
 * docs/aws/iam-policy.json. EC2 actions are asked with `DryRun`, which evaluates IAM (tag
 * conditions included) and does nothing: "DryRunOperation" means allowed, "UnauthorizedOperation"
 * not. Every check is one line with what to do.
 */
export interface AwsSetupOptions {
  home: string;
  env?: NodeJS.ProcessEnv;
  /** Clients to check with (default: the standard AWS chain, as spotrun's launches use). */
  ec2?: EC2Client;
}

/** A setup check waits this long for an answer, and retries once. */
const SETUP_TIMEOUT_MS = 10_000;
const POLICY = "docs/aws/iam-policy.json";
const SETUP_TAGS = { "spotrun:job": "setup-check" };

interface Context {
  ec2: EC2Client;
  region: string;
  zones: string[];
  /** The last 4 characters of the access key, to say which credentials were used (never the key). */
  keyHint: string;
}

/** A well-formed ed25519 public key for the ImportKeyPair dry run when spotrun has made none yet (nothing is imported). */
const DRY_RUN_PUBLIC_KEY = `ssh-ed25519 ${Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from("ssh-ed25519"), Buffer.from([0, 0, 0, 32]), Buffer.alloc(32, 7)]).toString("base64")} spotrun-setup-check`;

type Prepared = { ok: true; ctx: Context } | { ok: false; credentials: CheckOutcome; region: CheckOutcome };

/** A dry run's answer: allowed (`DryRunOperation`), or the failure as a check outcome. */
async function dryRun(ctx: Context, action: string, sid: string, send: () => Promise<unknown>): Promise<CheckOutcome> {
  try {
    await send();
    // A dry run never succeeds for real; an endpoint that ran it ignored DryRun.
    return { ok: false, problem: `ec2:${action} ran instead of a dry run`, fix: "check AWS_ENDPOINT_URL_EC2: it is not EC2" };
  } catch (e) {
    const f = awsErrorFacts(e);
    if (f.code === "DryRunOperation") return { ok: true, detail: `allowed in ${ctx.region} (dry run)` };
    if (f.code === "UnauthorizedOperation")
      return {
        ok: false,
        problem: `these credentials may not call ec2:${action} in ${ctx.region}`,
        fix: `grant statement ${sid} of ${POLICY}`,
      };
    return {
      ok: false,
      problem: `the dry run of ec2:${action} failed: ${f.code}: ${f.message}`,
      fix: fixForAwsCode(f.code, false),
    };
  }
}

export function setupChecks(opts: AwsSetupOptions): SetupCheck[] {
  const env = opts.env ?? process.env;
  let prepared: Promise<Prepared> | undefined;
  // One client and one DescribeAvailabilityZones for all the checks: credentials and region are proven by it.
  const prepare = (): Promise<Prepared> => {
    prepared ??= (async (): Promise<Prepared> => {
      const ec2 = opts.ec2 ?? createEc2Client({ retry: QUICK_RETRY_POLICY, requestTimeoutMs: SETUP_TIMEOUT_MS });
      let region: string;
      try {
        region = await ec2.config.region();
      } catch {
        region = "";
      }
      let keyId = "";
      let noCredentials: CheckOutcome | undefined;
      try {
        keyId = (await ec2.config.credentials()).accessKeyId;
      } catch (e) {
        noCredentials = {
          ok: false,
          problem: `no AWS credentials found (${awsErrorFacts(e).message})`,
          fix: fixForAwsCode("CredentialsProviderError", false),
        };
      }
      const noRegion: CheckOutcome | undefined = region
        ? undefined
        : {
            ok: false,
            problem: "no AWS region: neither AWS_REGION nor the profile's region is set",
            fix: "export AWS_REGION=us-east-1, or `aws configure set region us-east-1`",
          };
      if (noCredentials || noRegion)
        return {
          ok: false,
          credentials: noCredentials ?? { ok: true, detail: `access key …${keyId.slice(-4)} (not yet proven: no region to ask)` },
          region: noRegion ?? { ok: false, problem: "skipped: no credentials", fix: "fix the credentials check first" },
        };
      try {
        const res = await ec2.send(new DescribeAvailabilityZonesCommand({}));
        const zones = (res.AvailabilityZones ?? []).map((z) => z.ZoneName ?? "").filter(Boolean);
        return { ok: true, ctx: { ec2, region, zones, keyHint: keyId.slice(-4) } };
      } catch (e) {
        const f = awsErrorFacts(e);
        const auth = /^(AuthFailure|InvalidClientTokenId|SignatureDoesNotMatch|ExpiredToken|UnrecognizedClientException)$/.test(
          f.code,
        );
        if (auth || f.status === 401)
          return {
            ok: false,
            credentials: {
              ok: false,
              problem: `AWS refused the credentials (access key …${keyId.slice(-4)}): ${f.code}`,
              fix: fixForAwsCode("AuthFailure", false),
            },
            region: { ok: false, problem: "skipped: the credentials were refused", fix: "fix the credentials check first" },
          };
        return {
          ok: false,
          credentials: { ok: true, detail: `access key …${keyId.slice(-4)} (not yet proven: EC2 did not answer)` },
          region: {
            ok: false,
            problem: `EC2 in ${region} did not answer: ${f.code}: ${f.message}`,
            fix: `check AWS_REGION (${region}) and the network; AWS_ENDPOINT_URL_EC2 if you set one`,
          },
        };
      }
    })();
    return prepared;
  };
  /** A check that needs working credentials and a region; skipped (failed, pointing up) otherwise. */
  const withContext = (run: (ctx: Context) => Promise<CheckOutcome>) => async (): Promise<CheckOutcome> => {
    const p = await prepare();
    if (!p.ok) return { ok: false, problem: "skipped: no working credentials and region", fix: "fix the checks above first" };
    return run(p.ctx);
  };

  const dry = (action: string, sid: string, send: (ec2: EC2Client) => Promise<unknown>): SetupCheck => ({
    id: `aws.iam.ec2:${action}`,
    title: `IAM: ec2:${action}`,
    run: withContext((ctx) => dryRun(ctx, action, sid, () => send(ctx.ec2))),
  });

  return [
    {
      id: "aws.credentials",
      title: "AWS credentials",
      async run() {
        const p = await prepare();
        if (!p.ok) return p.credentials;
        return { ok: true, detail: `access key …${p.ctx.keyHint}, accepted by EC2` };
      },
    },
    {
      id: "aws.region",
      title: "AWS region",
      async run() {
        const p = await prepare();
        if (!p.ok) return p.region;
        const zones = p.ctx.zones;
        return { ok: true, detail: `${p.ctx.region} (${zones.length} zones: ${zones.join(", ")})` };
      },
    },
    {
      id: "aws.network",
      title: "default VPC, or the configured subnet",
      run: withContext((ctx) => checkNetwork(ctx, env)),
    },
    {
      id: "aws.key_pair",
      title: "SSH key pair in the region",
      run: withContext((ctx) => checkKeyPair(ctx, opts.home)),
    },
    dry("DescribeInstances", "ReadOnlyDescribeCallsHaveNoResourceLevelPermissions", (ec2) =>
      ec2.send(new DescribeInstancesCommand({ DryRun: true })),
    ),
    dry("DescribeSpotPriceHistory", "ReadOnlyDescribeCallsHaveNoResourceLevelPermissions", (ec2) =>
      ec2.send(new DescribeSpotPriceHistoryCommand({ DryRun: true, InstanceTypes: ["t3.micro"] })),
    ),
    dry("DescribeKeyPairs", "ReadOnlyDescribeCallsHaveNoResourceLevelPermissions", (ec2) =>
      ec2.send(new DescribeKeyPairsCommand({ DryRun: true })),
    ),
    dry("DescribeSecurityGroups", "ReadOnlyDescribeCallsHaveNoResourceLevelPermissions", (ec2) =>
      ec2.send(new DescribeSecurityGroupsCommand({ DryRun: true })),
    ),
    dry("DescribeLaunchTemplates", "ReadOnlyDescribeCallsHaveNoResourceLevelPermissions", (ec2) =>
      ec2.send(new DescribeLaunchTemplatesCommand({ DryRun: true })),
    ),
    // Tagged as spotrun tags its launches, so the policy's tag conditions are what is evaluated;
    // the image is the SSM parameter spotrun launches from, which EC2 resolves with these credentials.
    dry("RunInstances", "LaunchOnlyTaggedInstances, LaunchFromTheseResources, TagOnlyWhileCreating", (ec2) =>
      ec2.send(
        new RunInstancesCommand({
          DryRun: true,
          ImageId: defaultImage("t3.micro"),
          InstanceType: "t3.micro",
          MinCount: 1,
          MaxCount: 1,
          InstanceMarketOptions: { MarketType: "spot", SpotOptions: { SpotInstanceType: "one-time" } },
          TagSpecifications: (["instance", "volume", "spot-instances-request"] as const).map((ResourceType) => ({
            ResourceType,
            Tags: Object.entries(SETUP_TAGS).map(([Key, Value]) => ({ Key, Value })),
          })),
        }),
      ),
    ),
    dry("CreateLaunchTemplate", "OneShotLaunchTemplatesForFleets", (ec2) =>
      ec2.send(
        new CreateLaunchTemplateCommand({
          DryRun: true,
          LaunchTemplateName: "spotrun-setup-check",
          LaunchTemplateData: { InstanceType: "t3.micro" },
          TagSpecifications: [
            { ResourceType: "launch-template", Tags: Object.entries(SETUP_TAGS).map(([Key, Value]) => ({ Key, Value })) },
          ],
        }),
      ),
    ),
    dry("ImportKeyPair", "ImportTheGeneratedKey", async (ec2) =>
      ec2.send(
        new ImportKeyPairCommand({
          DryRun: true,
          KeyName: "spotrun-setup-check",
          PublicKeyMaterial: Buffer.from((await existingLocalKeyPair(opts.home))?.publicKey ?? DRY_RUN_PUBLIC_KEY),
        }),
      ),
    ),
    dry("CreateSecurityGroup", "TheSpotrunSshGroupInTheDefaultVpc", (ec2) =>
      ec2.send(
        new CreateSecurityGroupCommand({
          DryRun: true,
          GroupName: "spotrun-ssh",
          Description: "spotrun setup check",
          TagSpecifications: [{ ResourceType: "security-group", Tags: [{ Key: "spotrun:purpose", Value: "ssh" }] }],
        }),
      ),
    ),
    {
      id: "aws.iam.pricing:GetProducts",
      title: "IAM: pricing:GetProducts",
      run: withContext(checkPricing),
    },
    {
      id: "aws.iam.unchecked",
      title: "IAM actions no dry run can ask",
      // Said once, so nobody takes the lines above for the whole policy.
      run: async () => ({
        ok: true,
        detail:
          "not checked: ec2:CreateFleet, ec2:TerminateInstances, ec2:DeleteLaunchTemplate, ec2:AuthorizeSecurityGroupIngress (they need a real resource), iam:CreateServiceLinkedRole, iam:PassRole, s3:* (see the policy)",
      }),
    },
  ];
}

async function checkNetwork(ctx: Context, env: NodeJS.ProcessEnv): Promise<CheckOutcome> {
  const subnetId = env.SPOTRUN_AWS_SUBNET_ID;
  const groups = env.SPOTRUN_AWS_SECURITY_GROUP_IDS?.split(",").filter(Boolean) ?? [];
  try {
    if (subnetId) {
      const [subnet] = (await ctx.ec2.send(new DescribeSubnetsCommand({ SubnetIds: [subnetId] }))).Subnets ?? [];
      if (!subnet) return { ok: false, problem: `subnet ${subnetId} is not in ${ctx.region}`, fix: "fix SPOTRUN_AWS_SUBNET_ID" };
      if (!groups.length)
        return {
          ok: false,
          problem: `SPOTRUN_AWS_SUBNET_ID is set (${subnetId}) but no security groups: spotrun makes its own only in the default VPC`,
          fix: `set SPOTRUN_AWS_SECURITY_GROUP_IDS to groups of ${subnet.VpcId} that allow inbound TCP 22 from here`,
        };
      const found = (await ctx.ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: groups }))).SecurityGroups ?? [];
      const elsewhere = found.filter((g) => g.VpcId !== subnet.VpcId).map((g) => g.GroupId);
      if (elsewhere.length)
        return {
          ok: false,
          problem: `security group(s) ${elsewhere.join(", ")} are not in the subnet's VPC ${subnet.VpcId}`,
          fix: `use groups of ${subnet.VpcId} in SPOTRUN_AWS_SECURITY_GROUP_IDS`,
        };
      return {
        ok: true,
        detail: `subnet ${subnetId} (${subnet.AvailabilityZone}, ${subnet.VpcId}), groups ${groups.join(", ")}`,
      };
    }
    const [vpc] =
      (await ctx.ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: "is-default", Values: ["true"] }] }))).Vpcs ?? [];
    if (!vpc)
      return {
        ok: false,
        problem: `no default VPC in ${ctx.region}, and no SPOTRUN_AWS_SUBNET_ID`,
        fix: `\`aws ec2 create-default-vpc --region ${ctx.region}\`, or set SPOTRUN_AWS_SUBNET_ID and SPOTRUN_AWS_SECURITY_GROUP_IDS`,
      };
    const subnets =
      (
        await ctx.ec2.send(
          new DescribeSubnetsCommand({
            Filters: [
              { Name: "vpc-id", Values: [vpc.VpcId ?? ""] },
              { Name: "default-for-az", Values: ["true"] },
            ],
          }),
        )
      ).Subnets ?? [];
    if (!subnets.length)
      return {
        ok: false,
        problem: `the default VPC ${vpc.VpcId} has no default subnet`,
        fix: `\`aws ec2 create-default-subnet --availability-zone ${ctx.zones[0] ?? `${ctx.region}a`}\`, or set SPOTRUN_AWS_SUBNET_ID`,
      };
    return {
      ok: true,
      detail: `default VPC ${vpc.VpcId}, default subnets in ${subnets.map((s) => s.AvailabilityZone).join(", ")}${groups.length ? `; groups ${groups.join(", ")}` : ""}`,
    };
  } catch (e) {
    const f = awsErrorFacts(e);
    return { ok: false, problem: `${f.code}: ${f.message}`, fix: fixForAwsCode(f.code, false) };
  }
}

/** spotrun's own key (a task's `key_name` / `launch --key-name` is the user's, checked when it is used). */
async function checkKeyPair(ctx: Context, home: string): Promise<CheckOutcome> {
  const key = await existingLocalKeyPair(home);
  if (!key)
    return {
      ok: false,
      problem: `spotrun has no SSH key for AWS yet (${join(keyDir(home), "aws-ed25519")}; the first launch would make and import it)`,
      fix: `\`spotrun setup --fix\` makes it and imports it into ${ctx.region}`,
      autoFix: async () => ensureImported(ctx.ec2, await localKeyPair(home), { "spotrun:purpose": "ssh" }),
    };
  try {
    await ctx.ec2.send(new DescribeKeyPairsCommand({ KeyNames: [key.keyName] }));
    return { ok: true, detail: `${key.keyName} is in ${ctx.region} (${key.privateKeyPath})` };
  } catch (e) {
    const f = awsErrorFacts(e);
    if (f.code !== "InvalidKeyPair.NotFound")
      return { ok: false, problem: `${f.code}: ${f.message}`, fix: fixForAwsCode(f.code, false) };
    return {
      ok: false,
      problem: `spotrun's key ${key.keyName} is not imported into ${ctx.region} yet (the first launch would import it)`,
      fix: "`spotrun setup --fix` imports it now",
      autoFix: () => ensureImported(ctx.ec2, key, { "spotrun:purpose": "ssh" }),
    };
  }
}

async function checkPricing(_ctx: Context): Promise<CheckOutcome> {
  const pricing = createPricingClient();
  try {
    await pricing.send(new GetProductsCommand({ ServiceCode: "AmazonEC2", MaxResults: 1 }));
    return { ok: true, detail: "the on-demand price list answers" };
  } catch (e) {
    const f = awsErrorFacts(e);
    if (/^(AccessDenied|AccessDeniedException)$/.test(f.code))
      return {
        ok: false,
        problem: `these credentials may not call pricing:GetProducts (on-demand prices, read in us-east-1)`,
        fix: `grant statement OnDemandPriceCatalog of ${POLICY}`,
      };
    return { ok: false, problem: `pricing:GetProducts failed: ${f.code}: ${f.message}`, fix: fixForAwsCode(f.code, false) };
  } finally {
    pricing.destroy();
  }
}
