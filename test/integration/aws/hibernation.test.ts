import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { launchCommand } from "../../../src/cli/commands/launch.js";
import type { LaunchRequest } from "../../../src/providers/provider.js";
import { TAG } from "../../../src/providers/provider.js";
import { resourcesSchema } from "../../../src/spec/task-schema.js";
import { commandContext } from "./command-context.js";
import { type Ec2Fixture, startEc2Fixture } from "./ec2-fixture.js";

/** `--on-interruption hibernate`: what EC2 needs on the wire for a spot instance that hibernates. */
let fx: Ec2Fixture;
before(async () => {
  fx = await startEc2Fixture();
});
after(async () => fx.close());

const hibernating = (token: string, type: string, disk?: number): LaunchRequest => ({
  token,
  instanceTypes: [type],
  spot: true,
  count: 1,
  tags: { [TAG.job]: "j-hib" },
  resources: resourcesSchema.parse({ provider: "aws", on_interruption: "hibernate", ...(disk ? { disk } : {}) }),
});

test("a hibernating spot launch is configured for hibernation with an encrypted root volume that holds the RAM", async () => {
  const res = await fx.provider.launch(hibernating("tok-hib-1", "m7i.large", 30));
  assert.equal(res.kind, "launched", JSON.stringify(res));
  const [run] = fx.server.received("RunInstances");
  assert.equal(run?.["HibernationOptions.Configured"], "true");
  assert.equal(run?.["InstanceMarketOptions.SpotOptions.InstanceInterruptionBehavior"], "hibernate");
  assert.equal(run?.["InstanceMarketOptions.SpotOptions.SpotInstanceType"], "persistent");
  assert.equal(run?.["BlockDeviceMapping.1.Ebs.Encrypted"], "true");
  // 30 GiB asked for, plus the 8 GiB of RAM DescribeInstanceTypes reports for m7i.large.
  assert.equal(run?.["BlockDeviceMapping.1.Ebs.VolumeSize"], "38");
  assert.deepEqual(fx.server.received("DescribeInstanceTypes")[0]?.["InstanceType.1"], "m7i.large");
});

test("a type that cannot hibernate is refused before any launch, saying what to do", async () => {
  const before = fx.server.received("RunInstances", true).length;
  const res = await fx.provider.launch(hibernating("tok-hib-2", "g5.xlarge"));
  assert.equal(res.kind, "refused");
  assert.equal(res.kind === "refused" && res.code, "spotrun.HibernationUnsupported");
  assert.match(res.kind === "refused" ? res.message : "", /g5\.xlarge does not support hibernation — use --on-interruption stop/);
  assert.equal(fx.server.received("RunInstances", true).length, before);
});

test("--checkpoint-script on a provider without the launch guard is refused, not ignored", async () => {
  const { ctx } = commandContext(fx.home);
  await assert.rejects(
    launchCommand.run(ctx, [], {
      provider: "local",
      checkpointScript: "https://example.invalid/save.sh",
      onInterruption: "checkpoint",
    }),
    (e: Error) => {
      assert.match(e.message, /^--checkpoint-script is not supported with --provider local/);
      return true;
    },
  );
});
