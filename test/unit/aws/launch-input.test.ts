import assert from "node:assert/strict";
import { test } from "node:test";
import { refusalOf } from "../../../src/providers/aws/aws-error.js";
import {
  createFleetInput,
  defaultImage,
  interruptionBehavior,
  type LaunchPlan,
  launchTemplateName,
  priceString,
  runInstancesInput,
} from "../../../src/providers/aws/launch-input.js";

const plan = (over: Partial<LaunchPlan> = {}): LaunchPlan => ({
  token: "spotrun-j-1-a0-n0",
  instanceTypes: ["m7i.large"],
  spot: true,
  count: 1,
  imageId: "ami-1",
  userData: "IyE=",
  tags: { "spotrun:job": "j-1" },
  interruption: "terminate",
  ...over,
});

test("on_interruption maps to EC2's behaviour: checkpoint and terminate terminate", () => {
  assert.equal(interruptionBehavior("checkpoint"), "terminate");
  assert.equal(interruptionBehavior("terminate"), "terminate");
  assert.equal(interruptionBehavior("stop"), "stop");
  assert.equal(interruptionBehavior("hibernate"), "hibernate");
});

test("on-demand RunInstances has no market options; spot stop needs a persistent request", () => {
  assert.equal(runInstancesInput(plan({ spot: false })).InstanceMarketOptions, undefined);
  const stop = runInstancesInput(plan({ interruption: "stop" })).InstanceMarketOptions?.SpotOptions;
  assert.deepEqual(stop, { MaxPrice: undefined, SpotInstanceType: "persistent", InstanceInterruptionBehavior: "stop" });
  const input = runInstancesInput(plan({ count: 4, diskGb: 100 }));
  assert.equal(input.MinCount, 4, "a multi-node attempt is all or nothing");
  assert.equal(input.MaxCount, 4);
  assert.equal(input.BlockDeviceMappings?.[0]?.Ebs?.VolumeSize, 100);
  assert.equal(input.MetadataOptions?.HttpTokens, "required", "IMDSv2 only");
  assert.equal(input.IamInstanceProfile, undefined);
  assert.deepEqual(runInstancesInput(plan({ instanceProfile: "spotrun-agent" })).IamInstanceProfile, { Name: "spotrun-agent" });
});

test("fleets: one override per type, capacity split by market, all-or-nothing for several nodes", () => {
  const f = createFleetInput(plan({ instanceTypes: ["a.large", "b.large"], count: 3, maxPrice: "0.2" }), "lt");
  assert.deepEqual(
    f.LaunchTemplateConfigs?.[0]?.Overrides?.map((o) => [o.InstanceType, o.MaxPrice, o.Priority]),
    [
      ["a.large", "0.2", 0],
      ["b.large", "0.2", 1],
    ],
  );
  assert.deepEqual(f.TargetCapacitySpecification, {
    TotalTargetCapacity: 3,
    SpotTargetCapacity: 3,
    OnDemandTargetCapacity: 0,
    DefaultTargetCapacityType: "spot",
  });
  assert.equal(f.SpotOptions?.MinTargetCapacity, 3);
  assert.equal(f.SpotOptions?.SingleAvailabilityZone, true);
  const od = createFleetInput(plan({ instanceTypes: ["a.large", "b.large"], spot: false }), "lt");
  assert.equal(od.SpotOptions, undefined);
  assert.equal(od.OnDemandOptions?.AllocationStrategy, "prioritized");
  assert.equal(od.LaunchTemplateConfigs?.[0]?.Overrides?.[0]?.MaxPrice, undefined);
});

test("prices as EC2 decimal strings, images by architecture, template names from tokens", () => {
  assert.equal(priceString(0.05), "0.05");
  assert.equal(priceString(1e-7), "0");
  assert.equal(priceString(0.1 + 0.2), "0.3");
  assert.equal(priceString(3), "3");
  assert.match(defaultImage("m7g.large"), /\/arm64\//);
  assert.match(defaultImage("m7i.large"), /\/amd64\//);
  assert.match(defaultImage("g5.xlarge"), /\/amd64\//);
  assert.equal(launchTemplateName("spotrun-j 1:a0"), "spotrun-j_1_a0");
});

test("refusals by error code only", () => {
  assert.equal(refusalOf("InsufficientInstanceCapacity"), "capacity");
  assert.equal(refusalOf("InsufficientHostCapacity"), "capacity");
  assert.equal(refusalOf("InsufficientCapacity"), "capacity");
  assert.equal(refusalOf("UnfulfillableCapacity"), "capacity");
  assert.equal(refusalOf("SpotMaxPriceTooLow"), "price");
  assert.equal(refusalOf("MaxSpotInstanceCountExceeded"), "quota");
  assert.equal(refusalOf("Unsupported"), "unsupported");
  assert.equal(refusalOf("InvalidParameterValue"), undefined);
  assert.equal(refusalOf("RequestLimitExceeded"), undefined);
});

test("validateResources: what EC2 would refuse is a usage error before any job exists", async () => {
  const { AwsProvider } = await import("../../../src/providers/aws/aws-provider.js");
  const { silentLogger } = await import("../../../src/base/logger.js");
  const { SpotrunError } = await import("../../../src/base/errors.js");
  const { resourcesSchema } = await import("../../../src/spec/task-schema.js");
  const p = new AwsProvider({ home: "/nonexistent", logger: silentLogger });
  const r = (o: Record<string, unknown>) => resourcesSchema.parse({ provider: "aws", ...o });
  p.validateResources(r({ instance_type: "m7i.large", region: "eu-west-1", zone: "eu-west-1b", max_price: 0.05 }));
  p.validateResources(r({ instance_types: ["g5.xlarge", "g4dn.xlarge"], region: "us-gov-west-1" }));
  for (const [o, re] of [
    [{ instance_type: "RTX_4090" }, /not an EC2 instance type/],
    [{ max_price: 0.0005 }, /too low/],
    [{ instance_types: ["a.large", "b.large"], on_interruption: "hibernate" }, /several instance types/],
    [{ region: "europe" }, /not an AWS region/],
    [{ region: "us-east-1", zone: "eu-west-1a" }, /not in region/],
  ] as const)
    assert.throws(
      () => p.validateResources(r(o)),
      (e: unknown) => e instanceof SpotrunError && e.exitCode === 2 && re.test(e.message),
    );
});
