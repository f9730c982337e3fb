import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { EC2Client } from "@aws-sdk/client-ec2";
import { InstanceId } from "../../../src/base/ids.js";
import { silentLogger } from "../../../src/base/logger.js";
import { AwsProvider } from "../../../src/providers/aws/aws-provider.js";
import { type LaunchRequest, ProviderError, TAG } from "../../../src/providers/provider.js";
import { resourcesSchema } from "../../../src/spec/task-schema.js";
import { members, sub, tagSpecifications } from "../../servers/ec2/query-params.js";
import { type Ec2Fixture, priceTable, startEc2Fixture, TEST_KEYS } from "./ec2-fixture.js";

const NOW = Date.now();

function request(over: Omit<Partial<LaunchRequest>, "resources"> & { resources?: Record<string, unknown> } = {}): LaunchRequest {
  const { resources, ...rest } = over;
  return {
    token: "spotrun-j-test-a0-n0",
    instanceTypes: ["m7i.large"],
    spot: true,
    count: 1,
    tags: { [TAG.job]: "j-test", [TAG.attempt]: "j-test-a0", [TAG.checkpointScript]: "s3://ckpt-bucket/save.sh" },
    resources: resourcesSchema.parse({ provider: "aws", ...(resources ?? {}) }),
    ...rest,
  };
}

describe("AwsProvider against the in-repo EC2 server", () => {
  let fx: Ec2Fixture;
  before(async () => {
    fx = await startEc2Fixture({ pageSize: 2 });
    fx.server.setSpotPrices(
      priceTable(NOW, {
        "m7i.large": { "us-east-1a": 0.041, "us-east-1b": 0.0302, "us-east-1c": 0.05 },
        "m6i.large": { "us-east-1a": 0.035, "us-east-1b": 0.04 },
        "m5.large": { "us-east-1a": 0.033 },
      }),
    );
  });
  after(async () => fx.close());

  test("one spot instance with a max price: market options, ClientToken, tags, key pair and user data on the wire", async () => {
    const res = await fx.provider.launch(request({ maxPrice: 0.05 }));
    assert.equal(res.kind, "launched");
    if (res.kind !== "launched") return;
    const [inst] = res.instances;
    assert.ok(inst);
    assert.equal(inst.spot, true);
    assert.equal(inst.zone, "us-east-1b", "the server placed it in the cheapest zone");
    assert.equal(inst.pricePerHour, 0.0302, "the current (not the stale) spot price of its zone");
    assert.equal(inst.onDemandPricePerHour, 0.1008, "the shipped catalog's us-east-1 m7i.large price");

    const [run] = fx.server.received("RunInstances");
    assert.ok(run);
    assert.equal(run.ClientToken, "spotrun-j-test-a0-n0");
    assert.equal(run.InstanceType, "m7i.large");
    assert.equal(run.MinCount, "1");
    assert.equal(run.MaxCount, "1");
    const market = sub(run, "InstanceMarketOptions");
    assert.deepEqual(market, {
      MarketType: "spot",
      "SpotOptions.MaxPrice": "0.05",
      "SpotOptions.SpotInstanceType": "one-time",
      "SpotOptions.InstanceInterruptionBehavior": "terminate",
    });
    const tags = tagSpecifications(run).get("instance");
    assert.ok(tags);
    assert.equal(tags[TAG.job], "j-test");
    assert.equal(tags[TAG.attempt], "j-test-a0");
    assert.equal(tags[TAG.spot], "true");
    assert.equal(tags[TAG.maxPrice], "0.05");
    assert.equal(tags[TAG.onInterruption], "checkpoint");
    assert.equal(tags[TAG.checkpointScript], "s3://ckpt-bucket/save.sh");
    assert.deepEqual(tagSpecifications(run).get("volume"), tags, "volumes carry the same tags, so the reaper sees them");

    const [imported] = fx.server.received("ImportKeyPair");
    assert.ok(imported, "a generated key was imported");
    assert.equal(run.KeyName, imported.KeyName);
    assert.match(Buffer.from(imported.PublicKeyMaterial ?? "", "base64").toString(), /^ssh-ed25519 /);

    const script = Buffer.from(run.UserData ?? "", "base64").toString("utf8");
    // A POSIX sh script (a bare image has no bash guarantee) that installs nothing: the guard unit
    // waits for the launcher the controller ships over SSH into the login user's home.
    assert.match(script, /^#!\/bin\/sh\n/);
    assert.match(script, /^ExecStartPre=\/bin\/sh -c 'while \[ ! -x "\$home\/\.spotrun\/bin\/spotrun" \]; do sleep 2; done'$/m);
    assert.match(
      script,
      /^ExecStart=\$home\/\.spotrun\/bin\/spotrun agent guard --provider aws --config \/etc\/spotrun\/spot\.json$/m,
    );
    assert.match(script, /getent passwd ubuntu/);
    assert.doesNotMatch(script, /\b(npm|npx|apt-get|apt|pip3?|curl|wget|node)\b/);
    assert.match(script, /"checkpoint_script": "s3:\/\/ckpt-bucket\/save\.sh"/);
    assert.match(script, /"max_price_usd": 0\.05/);

    const [group] = fx.server.received("CreateSecurityGroup");
    assert.equal(group?.GroupName, "spotrun-ssh");
    assert.equal(group?.VpcId, undefined, "in the default VPC");
    const [rule] = fx.server.received("AuthorizeSecurityGroupIngress");
    assert.deepEqual(sub(rule ?? {}, "IpPermissions.1"), {
      IpProtocol: "tcp",
      FromPort: "22",
      ToPort: "22",
      "IpRanges.1.CidrIp": "0.0.0.0/0",
      "IpRanges.1.Description": "spotrun ssh",
    });
    const sg = [...fx.server.world.securityGroups.values()][0];
    assert.equal(run["SecurityGroupId.1"], sg?.id);

    const signed = fx.server.requests.find((r) => r.action === "RunInstances");
    assert.equal(signed?.region, "us-east-1", "SigV4 scope names the region from AWS_REGION");
    assert.equal(signed?.service, "ec2");
  });

  test("the same token launches nothing new; a different request under it is IdempotentParameterMismatch", async () => {
    const before = fx.server.world.instances.size;
    const a = await fx.provider.launch(request({ token: "tok-idem", spot: false }));
    const b = await fx.provider.launch(request({ token: "tok-idem", spot: false }));
    assert.equal(a.kind, "launched");
    assert.equal(b.kind, "launched");
    if (a.kind !== "launched" || b.kind !== "launched") return;
    assert.deepEqual(
      b.instances.map((i) => i.id),
      a.instances.map((i) => i.id),
    );
    assert.equal(fx.server.world.instances.size, before + 1);
    assert.equal(fx.server.received("CreateSecurityGroup").length, 1, "the SSH group is made once");
    assert.equal(fx.server.received("ImportKeyPair").length, 1, "the key is imported once");
    await assert.rejects(fx.provider.launch(request({ token: "tok-idem", spot: false, count: 2 })), (e: unknown) => {
      assert.ok(e instanceof ProviderError);
      assert.equal(e.code, "IdempotentParameterMismatch");
      assert.equal(e.retryable, false);
      assert.doesNotMatch(e.message, /\n/);
      return true;
    });
  });

  test("spot refused for capacity → refused/capacity; the on-demand retry carries no market options", async () => {
    fx.server.refuse({ action: "RunInstances", market: "spot", instanceType: "c7i.large", code: "InsufficientInstanceCapacity" });
    const refused = await fx.provider.launch(request({ token: "tok-fb", instanceTypes: ["c7i.large"] }));
    assert.deepEqual(
      {
        kind: refused.kind,
        refusal: refused.kind === "refused" ? refused.refusal : "",
        code: refused.kind === "refused" ? refused.code : "",
      },
      { kind: "refused", refusal: "capacity", code: "InsufficientInstanceCapacity" },
    );
    const od = await fx.provider.launch(request({ token: "tok-fb-od", instanceTypes: ["c7i.large"], spot: false }));
    assert.equal(od.kind, "launched");
    if (od.kind !== "launched") return;
    assert.equal(od.instances[0]?.spot, false);
    assert.equal(od.instances[0]?.pricePerHour, 0.08925);
    const last = fx.server.received("RunInstances").at(-1);
    assert.ok(last);
    assert.deepEqual(sub(last, "InstanceMarketOptions"), {});
    assert.equal(tagSpecifications(last).get("instance")?.[TAG.spot], "false");
  });

  test("a max price below the market → refused/price (SpotMaxPriceTooLow)", async () => {
    const res = await fx.provider.launch(request({ token: "tok-price", maxPrice: 0.01, zone: "us-east-1a" }));
    assert.equal(res.kind, "refused");
    if (res.kind !== "refused") return;
    assert.equal(res.refusal, "price");
    assert.equal(res.code, "SpotMaxPriceTooLow");
  });

  test("quota and unsupported codes are classified too; anything else is a one-line ProviderError with the code", async () => {
    fx.server.refuse({ action: "RunInstances", instanceType: "p3.2xlarge", code: "MaxSpotInstanceCountExceeded", times: 1 });
    fx.server.refuse({ action: "RunInstances", instanceType: "p3.2xlarge", code: "Unsupported", times: 1 });
    fx.server.refuse({ action: "RunInstances", instanceType: "p3.2xlarge", code: "InvalidAMIID.Malformed", times: 1 });
    const q = await fx.provider.launch(request({ token: "tok-q1", instanceTypes: ["p3.2xlarge"] }));
    const u = await fx.provider.launch(request({ token: "tok-q2", instanceTypes: ["p3.2xlarge"] }));
    assert.equal(q.kind === "refused" && q.refusal, "quota");
    assert.equal(u.kind === "refused" && u.refusal, "unsupported");
    await assert.rejects(fx.provider.launch(request({ token: "tok-q3", instanceTypes: ["p3.2xlarge"] })), (e: unknown) => {
      assert.ok(e instanceof ProviderError);
      assert.equal(e.provider, "aws");
      assert.equal(e.code, "InvalidAMIID.Malformed");
      assert.equal(e.retryable, false);
      assert.match(e.message, /^aws RunInstances failed: InvalidAMIID\.Malformed: /);
      return true;
    });
  });

  test("on_interruption hibernate asks for a persistent request that hibernates", async () => {
    const res = await fx.provider.launch(request({ token: "tok-hib", resources: { on_interruption: "hibernate" } }));
    assert.equal(res.kind, "launched");
    const run = fx.server.received("RunInstances").at(-1);
    assert.ok(run);
    assert.equal(run["InstanceMarketOptions.SpotOptions.SpotInstanceType"], "persistent");
    assert.equal(run["InstanceMarketOptions.SpotOptions.InstanceInterruptionBehavior"], "hibernate");
  });

  test("several types → one instant CreateFleet: an override per type, price-capacity-optimized, Errors and Instances both read", async () => {
    fx.server.refuse({
      action: "CreateFleet",
      market: "spot",
      instanceType: "m7i.large",
      code: "InsufficientInstanceCapacity",
      times: 1,
    });
    fx.server.refuse({
      action: "CreateFleet",
      market: "spot",
      instanceType: "m5.large",
      code: "InsufficientInstanceCapacity",
      times: 1,
    });
    const res = await fx.provider.launch(
      request({ token: "tok-fleet", instanceTypes: ["m7i.large", "m6i.large", "m5.large"], maxPrice: 0.09 }),
    );
    assert.equal(res.kind, "launched");
    if (res.kind !== "launched") return;
    // Cheapest first: m7i.large (0.0302) and m5.large (0.033) are refused, m6i.large (0.035) gets the capacity.
    assert.equal(res.instances.length, 1);
    assert.equal(res.instances[0]?.instanceType, "m6i.large");
    assert.equal(res.instances[0]?.zone, "us-east-1a");
    assert.equal(res.instances[0]?.spot, true);
    assert.equal(res.instances[0]?.pricePerHour, 0.035);
    const [fleet] = fx.server.received("CreateFleet");
    assert.ok(fleet);
    assert.equal(fleet.Type, "instant");
    assert.equal(fleet.ClientToken, "tok-fleet");
    assert.equal(fleet["SpotOptions.AllocationStrategy"], "price-capacity-optimized");
    assert.equal(fleet["TargetCapacitySpecification.TotalTargetCapacity"], "1");
    assert.equal(fleet["TargetCapacitySpecification.DefaultTargetCapacityType"], "spot");
    const [cfg] = members(fleet, "LaunchTemplateConfigs");
    assert.ok(cfg);
    const overrides = members(cfg, "Overrides");
    assert.deepEqual(
      overrides.map((o) => [o.InstanceType, o.MaxPrice]),
      [
        ["m7i.large", "0.09"],
        ["m6i.large", "0.09"],
        ["m5.large", "0.09"],
      ],
    );
    assert.equal(tagSpecifications(fleet).get("instance")?.[TAG.job], "j-test");
    const [lt] = fx.server.received("CreateLaunchTemplate");
    assert.ok(lt);
    assert.equal(lt.ClientToken, "tok-fleet");
    assert.equal(cfg["LaunchTemplateSpecification.LaunchTemplateName"], lt.LaunchTemplateName);
    assert.match(Buffer.from(lt["LaunchTemplateData.UserData"] ?? "", "base64").toString(), /spotrun agent guard|agent guard/);
    assert.equal(fx.server.received("DeleteLaunchTemplate").length, 1, "the one-shot template is removed");
    assert.equal(fx.server.world.launchTemplates.size, 0);
  });

  test("a fleet whose every pool is refused → refused, classified from its Errors", async () => {
    fx.server.refuse({ action: "CreateFleet", market: "spot", instanceType: "g5.xlarge", code: "InsufficientInstanceCapacity" });
    fx.server.refuse({ action: "CreateFleet", market: "spot", instanceType: "g4dn.xlarge", code: "UnfulfillableCapacity" });
    const res = await fx.provider.launch(request({ token: "tok-fleet-none", instanceTypes: ["g5.xlarge", "g4dn.xlarge"] }));
    assert.equal(res.kind, "refused");
    if (res.kind !== "refused") return;
    assert.equal(res.refusal, "capacity");
    assert.match(res.message, /g5\.xlarge InsufficientInstanceCapacity/);
    assert.match(res.message, /g4dn\.xlarge UnfulfillableCapacity/);
  });

  test("a multi-node fleet is all or nothing: pools are combined, and below MinTargetCapacity nothing launches", async () => {
    fx.server.world.setCapacity("c7i.xlarge", "spot", 1);
    fx.server.world.setCapacity("m7i.xlarge", "spot", 5);
    const both = await fx.provider.launch(request({ token: "tok-mn-1", instanceTypes: ["c7i.xlarge", "m7i.xlarge"], count: 2 }));
    assert.equal(both.kind, "launched");
    if (both.kind !== "launched") return;
    assert.deepEqual(both.instances.map((i) => i.instanceType).sort(), ["c7i.xlarge", "m7i.xlarge"]);
    const fleet = fx.server.received("CreateFleet").at(-1) ?? {};
    assert.equal(fleet["SpotOptions.MinTargetCapacity"], "2");
    assert.equal(fleet["SpotOptions.SingleAvailabilityZone"], "true");

    fx.server.world.setCapacity("c7i.xlarge", "spot", 1);
    fx.server.world.setCapacity("m7i.xlarge", "spot", 0);
    const before = fx.server.world.instances.size;
    const none = await fx.provider.launch(request({ token: "tok-mn-2", instanceTypes: ["c7i.xlarge", "m7i.xlarge"], count: 2 }));
    assert.equal(none.kind, "refused");
    if (none.kind !== "refused") return;
    assert.equal(none.refusal, "capacity");
    assert.match(none.message, /^fleet got 0\/2: /);
    assert.equal(fx.server.world.instances.size, before, "nothing left running");
    assert.equal(fx.server.world.available("c7i.xlarge", "spot"), 1);

    fx.server.world.setCapacity("m7i.2xlarge", "on-demand", 2);
    const run = await fx.provider.launch(request({ token: "tok-mn-3", instanceTypes: ["m7i.2xlarge"], spot: false, count: 3 }));
    assert.equal(run.kind === "refused" && run.code, "InsufficientInstanceCapacity", "MinCount = MaxCount = 3 and room for 2");
  });

  test("list by tag pages through DescribeInstances; terminate; describe sees the end", async () => {
    const res = await fx.provider.launch(
      request({ token: "tok-list", spot: false, count: 3, tags: { [TAG.job]: "j-list", [TAG.attempt]: "j-list-a0" } }),
    );
    assert.equal(res.kind, "launched");
    const listed = await fx.provider.list({ [TAG.job]: "j-list" });
    assert.equal(listed.length, 3);
    assert.ok(listed.every((i) => i.tags[TAG.job] === "j-list" && i.status === "running"));
    const pages = fx.server
      .received("DescribeInstances")
      .filter((p) => p["Filter.1.Name"] === `tag:${TAG.job}` && p["Filter.1.Value.1"] === "j-list");
    assert.equal(pages.length, 2, "page size 2 on the server: two pages for three instances");
    assert.ok(pages[1]?.NextToken);

    await fx.provider.terminate(listed.map((i) => i.id));
    const [term] = fx.server.received("TerminateInstances");
    assert.deepEqual(
      Object.keys(term ?? {})
        .filter((k) => k.startsWith("InstanceId."))
        .map((k) => term?.[k])
        .sort(),
      listed.map((i) => i.id).sort(),
    );
    const after = await fx.provider.describe(listed.map((i) => i.id));
    assert.deepEqual(
      after.map((i) => i.status),
      ["terminated", "terminated", "terminated"],
    );
    await fx.provider.terminate([InstanceId("i-0000000000000dead"), listed[0]?.id as InstanceId]);
  });

  test("listUnsettled asks EC2 for what is not running only (the state filtered at the server): none while they run, all once terminated", async () => {
    const res = await fx.provider.launch(
      request({ token: "tok-unsettled", spot: false, count: 2, tags: { [TAG.job]: "j-unsettled", [TAG.attempt]: "a0" } }),
    );
    assert.equal(res.kind, "launched");
    const ids = res.kind === "launched" ? res.instances.map((i) => i.id) : [];
    await fx.provider.describe(ids); // running by now, as the list test sees them
    assert.deepEqual(await fx.provider.listUnsettled({ [TAG.job]: "j-unsettled" }), []);
    const asked = fx.server.received("DescribeInstances").at(-1) ?? {};
    assert.equal(asked["Filter.2.Name"], "instance-state-name");
    assert.ok(!Object.entries(asked).some(([k, v]) => k.startsWith("Filter.2.Value") && v === "running"));
    await fx.provider.terminate(ids);
    const after = await fx.provider.listUnsettled({ [TAG.job]: "j-unsettled" });
    assert.deepEqual(after.map((i) => i.status).sort(), ["terminated", "terminated"]);
  });

  test("describe reports a spot instance the control plane reclaimed", async () => {
    const res = await fx.provider.launch(request({ token: "tok-reclaim" }));
    assert.equal(res.kind, "launched");
    if (res.kind !== "launched") return;
    const id = res.instances[0]?.id as InstanceId;
    fx.server.world.interrupt(id);
    const [seen] = await fx.provider.describe([id]);
    assert.equal(seen?.status, "terminated");
    assert.equal(seen?.interrupted?.reason, "Server.SpotInstanceTermination");
  });

  test("RequestLimitExceeded is retried with jittered, growing backoff, reusing the ClientToken", async () => {
    fx.sleeps.length = 0;
    fx.server.throttle(3, "RunInstances");
    const res = await fx.provider.launch(request({ token: "tok-throttle", spot: false }));
    assert.equal(res.kind, "launched");
    const tries = fx.server.requests.filter((r) => r.action === "RunInstances" && r.params.ClientToken === "tok-throttle");
    assert.deepEqual(
      tries.map((r) => [r.status, r.errorCode]),
      [
        [503, "RequestLimitExceeded"],
        [503, "RequestLimitExceeded"],
        [503, "RequestLimitExceeded"],
        [200, undefined],
      ],
    );
    assert.equal(fx.sleeps.length, 3);
    assert.ok(
      fx.sleeps.every((ms, i) => ms >= 1 && ms <= 400 * 2 ** (i + 1)),
      `delays ${fx.sleeps}`,
    );
  });

  test("5xx is retried; when retries run out the error is retryable for the caller", async () => {
    fx.server.fail(1, 500, "InternalError", "DescribeInstances");
    assert.equal((await fx.provider.list({ [TAG.job]: "j-none" })).length, 0);
    fx.server.fail(20, 503, "Unavailable", "DescribeInstances");
    await assert.rejects(fx.provider.list({ [TAG.job]: "j-none" }), (e: unknown) => {
      assert.ok(e instanceof ProviderError);
      assert.equal(e.code, "Unavailable");
      assert.equal(e.retryable, true);
      return true;
    });
    const failed = fx.server.requests.filter((r) => r.action === "DescribeInstances" && r.errorCode === "Unavailable");
    assert.equal(failed.length, 6, "bounded: six attempts, then give up");
    fx.server.clearFaults();
  });

  test("offers: the latest spot price per zone and the catalog's on-demand price", async () => {
    const offers = await fx.provider.offers(
      resourcesSchema.parse({ provider: "aws", instance_types: ["m7i.large", "m6i.large"] }),
    );
    const spot = offers.filter((o) => o.spot).map((o) => [o.instanceType, o.zone, o.pricePerHour]);
    assert.deepEqual(spot, [
      ["m7i.large", "us-east-1b", 0.0302],
      ["m6i.large", "us-east-1a", 0.035],
      ["m6i.large", "us-east-1b", 0.04],
      ["m7i.large", "us-east-1a", 0.041],
      ["m7i.large", "us-east-1c", 0.05],
    ]);
    const od = offers.filter((o) => !o.spot).map((o) => [o.instanceType, o.pricePerHour]);
    assert.deepEqual(od, [
      ["m6i.large", 0.096],
      ["m7i.large", 0.1008],
    ]);
    const hist = fx.server.received("DescribeSpotPriceHistory").at(-1);
    assert.equal(hist?.["ProductDescription.1"], "Linux/UNIX");
  });
});

test("an EC2Client handed in is used as is (explicit endpoint, no environment)", async () => {
  const { Ec2Server } = await import("../../servers/ec2/ec2-server.js");
  const { mkdtemp, rm } = await import("node:fs/promises");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const server = new Ec2Server({ region: "eu-west-1", secrets: { [TEST_KEYS.accessKeyId]: TEST_KEYS.secretAccessKey } });
  const url = await server.start();
  const home = await mkdtemp(join(tmpdir(), "spotrun-aws-"));
  const ec2 = new EC2Client({ endpoint: url, region: "eu-west-1", credentials: TEST_KEYS });
  const provider = new AwsProvider({ home, logger: silentLogger, ec2, spotrunVersion: "0.1.0" });
  try {
    const res = await provider.launch(request({ token: "tok-explicit", spot: false, resources: { key_name: "my-key" } }));
    assert.equal(res.kind, "launched");
    if (res.kind !== "launched") return;
    assert.equal(res.instances[0]?.region, "eu-west-1");
    assert.equal(res.instances[0]?.onDemandPricePerHour, 0.1124);
    assert.equal(server.received("RunInstances")[0]?.KeyName, "my-key");
    assert.equal(server.received("ImportKeyPair").length, 0, "the user's key is used, none generated");
    assert.equal(server.requests[0]?.region, "eu-west-1");
  } finally {
    ec2.destroy();
    await server.close();
    await rm(home, { recursive: true, force: true });
  }
});

test("an instance launched outside the default region is described, listed and terminated there, even by a new provider", async () => {
  const fx = await startEc2Fixture();
  try {
    const res = await fx.provider.launch(request({ token: "tok-region", spot: false, region: "eu-west-1" }));
    assert.equal(res.kind, "launched");
    if (res.kind !== "launched") return;
    const id = res.instances[0]?.id as InstanceId;
    assert.equal(res.instances[0]?.region, "eu-west-1");
    assert.equal(res.instances[0]?.onDemandPricePerHour, 0.1124, "priced from the eu-west-1 catalog");
    assert.equal(fx.server.requests.find((r) => r.action === "RunInstances")?.region, "eu-west-1");

    // A controller restarted in another process: same home, fresh provider, default region us-east-1.
    const again = new AwsProvider({ home: fx.home, logger: silentLogger, spotrunVersion: "0.1.0" });
    try {
      fx.server.requests.length = 0;
      const [seen] = await again.describe([id]);
      assert.equal(seen?.id, id);
      assert.equal(seen?.region, "eu-west-1");
      assert.deepEqual(
        fx.server.requests.map((r) => [r.action, r.region]),
        [["DescribeInstances", "eu-west-1"]],
      );
      fx.server.requests.length = 0;
      await again.list({ [TAG.job]: "j-test" });
      assert.deepEqual(fx.server.requests.map((r) => r.region).sort(), ["eu-west-1", "us-east-1"]);
      fx.server.requests.length = 0;
      await again.terminate([id]);
      assert.deepEqual(
        fx.server.requests.map((r) => [r.action, r.region]),
        [["TerminateInstances", "eu-west-1"]],
      );
    } finally {
      await again.close();
    }
  } finally {
    await fx.close();
  }
});

test("the user's security groups (SPOTRUN_AWS_SECURITY_GROUP_IDS) are used as given, none made", async () => {
  const fx = await startEc2Fixture();
  const saved = process.env.SPOTRUN_AWS_SECURITY_GROUP_IDS;
  try {
    fx.server.world.securityGroups.set("sg-0mine", {
      id: "sg-0mine",
      name: "mine",
      description: "x",
      vpcId: fx.server.world.defaultVpcId,
      tags: {},
      ingress: [],
    });
    process.env.SPOTRUN_AWS_SECURITY_GROUP_IDS = "sg-0mine";
    const res = await fx.provider.launch(request({ token: "tok-sg", spot: false }));
    assert.equal(res.kind, "launched");
    assert.equal(fx.server.received("RunInstances")[0]?.["SecurityGroupId.1"], "sg-0mine");
    assert.equal(fx.server.received("CreateSecurityGroup", true).length, 0);
  } finally {
    if (saved === undefined) delete process.env.SPOTRUN_AWS_SECURITY_GROUP_IDS;
    else process.env.SPOTRUN_AWS_SECURITY_GROUP_IDS = saved;
    await fx.close();
  }
});

test("the task's resources.aws places the launch: its groups, subnet, instance profile and login user, before the environment's", async () => {
  const fx = await startEc2Fixture();
  const saved = process.env.SPOTRUN_AWS_SUBNET_ID;
  try {
    fx.server.world.securityGroups.set("sg-0a1", {
      id: "sg-0a1",
      name: "team",
      description: "x",
      vpcId: fx.server.world.defaultVpcId,
      tags: {},
      ingress: [],
    });
    process.env.SPOTRUN_AWS_SUBNET_ID = "subnet-0fromenv";
    const res = await fx.provider.launch(
      request({
        token: "tok-net",
        spot: false,
        resources: {
          image: "ami-0custom",
          aws: {
            security_group_ids: ["sg-0a1"],
            subnet_id: "subnet-0abc",
            instance_profile: "spotrun-agent",
            ssh_user: "ec2-user",
          },
        },
      }),
    );
    assert.equal(res.kind, "launched");
    const run = fx.server.received("RunInstances")[0];
    assert.equal(run?.["SecurityGroupId.1"], "sg-0a1");
    assert.equal(run?.SubnetId, "subnet-0abc");
    assert.equal(run?.["IamInstanceProfile.Name"], "spotrun-agent");
    if (res.kind === "launched") assert.equal(res.instances[0]?.tags["spotrun:ssh-user"], "ec2-user");
    assert.equal(fx.server.received("CreateSecurityGroup", true).length, 0);
  } finally {
    if (saved === undefined) delete process.env.SPOTRUN_AWS_SUBNET_ID;
    else process.env.SPOTRUN_AWS_SUBNET_ID = saved;
    await fx.close();
  }
});

test("resources.aws is checked: ids by their form, and only with provider aws", () => {
  assert.throws(
    () => resourcesSchema.parse({ provider: "aws", aws: { subnet_id: "sn-1" } }),
    /a subnet id such as subnet-0abc123/,
  );
  assert.throws(
    () => resourcesSchema.parse({ provider: "local", aws: { subnet_id: "subnet-0a" } }),
    /aws is only valid with provider: aws/,
  );
  assert.throws(() => resourcesSchema.parse({ provider: "aws", aws: { vpc: "x" } }));
});
