import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, test } from "node:test";
import { Ec2Server } from "../../servers/ec2/ec2-server.js";
import { spotrun } from "../../support-cli/spotrun-cli.js";
import { TEST_KEYS } from "./ec2-fixture.js";

/**
 * `spotrun setup --provider aws` (issue 17 item 14) through the real CLI and SDK clients against
 * the in-repo EC2 server: credentials, region, default VPC or configured subnet, the key pair,
 * and each IAM action by a dry run, one line each with what to do.
 */
interface Check {
  id: string;
  ok: boolean;
  detail: string | null;
  problem: string | null;
  fix: string | null;
}

let server: Ec2Server;
let root: string;
let home: string;

before(async () => {
  root = await mkdtemp(join(tmpdir(), "spotrun-aws-setup-"));
});
beforeEach(async () => {
  await server?.close();
  server = new Ec2Server({ secrets: { [TEST_KEYS.accessKeyId]: TEST_KEYS.secretAccessKey } });
  await server.start();
  home = await mkdtemp(join(root, "home-"));
});
after(async () => {
  await server?.close();
  await rm(root, { recursive: true, force: true });
});

const awsEnv = (extra: Record<string, string> = {}): Record<string, string> => ({
  AWS_ENDPOINT_URL_EC2: server.url,
  AWS_ENDPOINT_URL_PRICING: server.url,
  AWS_REGION: "us-east-1",
  AWS_ACCESS_KEY_ID: TEST_KEYS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: TEST_KEYS.secretAccessKey,
  AWS_EC2_METADATA_DISABLED: "true",
  // No profile, no ~/.aws of the machine running the test.
  HOME: root,
  AWS_PROFILE: "",
  ...extra,
});

async function setup(env: Record<string, string>, ...flags: string[]) {
  const r = await spotrun(home, ["setup", "--provider", "aws", "--json", ...flags], { env });
  const doc = JSON.parse(r.stdout) as { ok: boolean; checks: (Check & { source: string })[] };
  const aws = Object.fromEntries(doc.checks.filter((c) => c.source === "aws").map((c) => [c.id, c]));
  return { code: r.code, aws, stderr: r.stderr };
}

const IAM = [
  "aws.iam.ec2:DescribeInstances",
  "aws.iam.ec2:DescribeSpotPriceHistory",
  "aws.iam.ec2:DescribeKeyPairs",
  "aws.iam.ec2:DescribeSecurityGroups",
  "aws.iam.ec2:DescribeLaunchTemplates",
  "aws.iam.ec2:RunInstances",
  "aws.iam.ec2:CreateLaunchTemplate",
  "aws.iam.ec2:ImportKeyPair",
  "aws.iam.ec2:CreateSecurityGroup",
  "aws.iam.pricing:GetProducts",
];

test("a fresh account: everything allowed, only the key pair missing; --fix imports it; the dry runs change nothing", async () => {
  const first = await setup(awsEnv());
  assert.equal(first.code, 1, "a failed check is exit 1");
  assert.deepEqual(
    Object.keys(first.aws),
    ["aws.credentials", "aws.region", "aws.network", "aws.key_pair", ...IAM, "aws.iam.unchecked"],
    "one line per check, in order",
  );
  assert.equal(first.aws["aws.credentials"]?.detail, `access key …${TEST_KEYS.accessKeyId.slice(-4)}, accepted by EC2`);
  assert.equal(first.aws["aws.region"]?.detail, "us-east-1 (3 zones: us-east-1a, us-east-1b, us-east-1c)");
  assert.match(
    first.aws["aws.network"]?.detail ?? "",
    /^default VPC vpc-\S+, default subnets in us-east-1a, us-east-1b, us-east-1c$/,
  );
  assert.equal(first.aws["aws.key_pair"]?.ok, false);
  assert.match(first.aws["aws.key_pair"]?.fix ?? "", /spotrun setup --fix/);
  for (const id of IAM) assert.equal(first.aws[id]?.ok, true, `${id}: ${first.aws[id]?.problem}`);
  assert.match(first.aws["aws.iam.unchecked"]?.detail ?? "", /ec2:CreateFleet.*iam:PassRole/);

  // The EC2 calls that could change something were all dry runs; nothing exists that did not before.
  for (const action of ["RunInstances", "CreateLaunchTemplate", "ImportKeyPair", "CreateSecurityGroup"]) {
    const sent = server.requests.filter((r) => r.action === action);
    assert.equal(sent.length, 1, action);
    assert.equal(sent[0]?.params.DryRun, "true", `${action} was a dry run`);
    assert.equal(sent[0]?.errorCode, "DryRunOperation");
  }
  const launch = server.requests.find((r) => r.action === "RunInstances")?.params ?? {};
  assert.match(launch.ImageId ?? "", /^resolve:ssm:\/aws\/service\/canonical\/ubuntu\//, "the image spotrun launches");
  assert.equal(launch["TagSpecification.1.Tag.1.Key"], "spotrun:job", "tagged as the policy's conditions need");
  assert.equal(server.world.instances.size + server.world.launchTemplates.size + server.world.securityGroups.size, 0);
  assert.equal(server.world.keyPairs.size, 0);

  const fixed = await setup(awsEnv(), "--fix");
  assert.equal(fixed.aws["aws.key_pair"]?.ok, true, fixed.aws["aws.key_pair"]?.problem ?? "");
  const [imported] = [...server.world.keyPairs.keys()];
  assert.match(imported ?? "", /^spotrun-[0-9a-f]{12}$/);
  assert.ok(Object.values(fixed.aws).every((c) => c.ok));
  assert.equal(fixed.code, 0, fixed.stderr);
});

test("denied actions: one failing line each, naming the policy statement that grants it", async () => {
  server.denied.add("RunInstances");
  server.denied.add("DescribeSpotPriceHistory");
  server.denied.add("GetProducts");
  const r = await setup(awsEnv());
  const failed = Object.values(r.aws).filter((c) => !c.ok && c.id.startsWith("aws.iam."));
  assert.deepEqual(
    failed.map((c) => c.id),
    ["aws.iam.ec2:DescribeSpotPriceHistory", "aws.iam.ec2:RunInstances", "aws.iam.pricing:GetProducts"],
  );
  assert.equal(r.aws["aws.iam.ec2:RunInstances"]?.problem, "these credentials may not call ec2:RunInstances in us-east-1");
  assert.match(
    r.aws["aws.iam.ec2:RunInstances"]?.fix ?? "",
    /^grant statement LaunchOnlyTaggedInstances.* of docs\/aws\/iam-policy\.json$/,
  );
  assert.match(r.aws["aws.iam.ec2:DescribeSpotPriceHistory"]?.fix ?? "", /ReadOnlyDescribeCallsHaveNoResourceLevelPermissions/);
  assert.equal(r.aws["aws.iam.pricing:GetProducts"]?.fix, "grant statement OnDemandPriceCatalog of docs/aws/iam-policy.json");
});

test("no default VPC: the fix says how to make one or which subnet to give; a configured subnet is checked with its groups", async () => {
  server.world.deleteDefaultVpc();
  let r = await setup(awsEnv());
  assert.equal(r.aws["aws.network"]?.problem, "no default VPC in us-east-1, and no SPOTRUN_AWS_SUBNET_ID");
  assert.match(r.aws["aws.network"]?.fix ?? "", /^`aws ec2 create-default-vpc --region us-east-1`, or set SPOTRUN_AWS_SUBNET_ID/);

  const subnet = server.world.addSubnet("us-east-1b");
  r = await setup(awsEnv({ SPOTRUN_AWS_SUBNET_ID: subnet.id }));
  assert.match(r.aws["aws.network"]?.problem ?? "", /SPOTRUN_AWS_SUBNET_ID is set .* but no security groups/);
  assert.match(r.aws["aws.network"]?.fix ?? "", new RegExp(`groups of ${subnet.vpcId}`));

  const group = (id: string, vpcId: string) =>
    server.world.securityGroups.set(id, { id, name: id, description: "ssh", vpcId, tags: {}, ingress: [] });
  group("sg-0other", "vpc-0elsewhere");
  r = await setup(awsEnv({ SPOTRUN_AWS_SUBNET_ID: subnet.id, SPOTRUN_AWS_SECURITY_GROUP_IDS: "sg-0other" }));
  assert.match(r.aws["aws.network"]?.problem ?? "", /sg-0other are not in the subnet's VPC/);
  group("sg-0mine", subnet.vpcId);
  r = await setup(awsEnv({ SPOTRUN_AWS_SUBNET_ID: subnet.id, SPOTRUN_AWS_SECURITY_GROUP_IDS: "sg-0mine" }));
  assert.equal(r.aws["aws.network"]?.ok, true, r.aws["aws.network"]?.problem ?? "");
  assert.equal(r.aws["aws.network"]?.detail, `subnet ${subnet.id} (us-east-1b, ${subnet.vpcId}), groups sg-0mine`);

  r = await setup(awsEnv({ SPOTRUN_AWS_SUBNET_ID: "subnet-0nothere", SPOTRUN_AWS_SECURITY_GROUP_IDS: "sg-0mine" }));
  assert.match(r.aws["aws.network"]?.problem ?? "", /^InvalidSubnetID\.NotFound: /);
  assert.match(r.aws["aws.network"]?.fix ?? "", /SPOTRUN_AWS_SUBNET_ID/);
});

test("credentials refused, none at all, or no region: that line fails with the fix, the rest say they were skipped", async () => {
  let r = await setup(awsEnv({ AWS_SECRET_ACCESS_KEY: "not-the-secret" }));
  assert.match(
    r.aws["aws.credentials"]?.problem ?? "",
    /^AWS refused the credentials \(access key …0001\): SignatureDoesNotMatch$/,
  );
  assert.match(r.aws["aws.credentials"]?.fix ?? "", /aws configure/);
  assert.equal(r.aws["aws.iam.ec2:RunInstances"]?.problem, "skipped: no working credentials and region");

  const none = awsEnv();
  for (const k of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]) none[k] = "";
  r = await setup(none);
  assert.match(r.aws["aws.credentials"]?.problem ?? "", /^no AWS credentials found/);

  const sentBefore = server.requests.length;
  r = await setup(awsEnv({ AWS_REGION: "" }));
  assert.equal(r.aws["aws.region"]?.problem, "no AWS region: neither AWS_REGION nor the profile's region is set");
  assert.match(r.aws["aws.region"]?.fix ?? "", /AWS_REGION=/);
  assert.equal(r.aws["aws.credentials"]?.ok, true, "the credentials are found without a region");
  assert.equal(server.requests.length, sentBefore, "without a region nothing is sent");
});
