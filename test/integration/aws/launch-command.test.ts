import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { SpotrunError } from "../../../src/base/errors.js";
import { launchCommand } from "../../../src/cli/commands/launch.js";
import { terminateCommand } from "../../../src/cli/commands/terminate.js";
import { TAG } from "../../../src/providers/provider.js";
import { sub, tagSpecifications } from "../../servers/ec2/query-params.js";
import { commandContext } from "./command-context.js";
import { type Ec2Fixture, priceTable, startEc2Fixture } from "./ec2-fixture.js";

type Data = {
  id: string;
  estimate: { savings_pct: number; hourly_usd: number; on_demand_hourly_usd: number; spot_count: number };
  instances: { id: string; node: number; spot: boolean; fell_back_to_on_demand: boolean; instance_type: string }[];
  refused: unknown[];
};

describe("spotrun launch / terminate through the handler, against the in-repo EC2 server", () => {
  let fx: Ec2Fixture;
  const launch = async (opts: Record<string, unknown>) => {
    const { ctx, out } = commandContext(fx.home);
    const res = await launchCommand.run(ctx, [], { provider: "aws", onInterruption: "checkpoint", ...opts });
    return { res, data: res.data as Data, out };
  };
  before(async () => {
    fx = await startEc2Fixture();
    fx.server.setSpotPrices(
      priceTable(Date.now(), {
        "m7i.large": { "us-east-1a": 0.041, "us-east-1b": 0.0302 },
        "m6i.large": { "us-east-1a": 0.035 },
        "m5.large": { "us-east-1a": 0.033 },
        "c7i.large": { "us-east-1a": 0.031 },
      }),
    );
  });
  after(async () => fx.close());

  test("--dry-run prints the estimate with the savings line and launches nothing", async () => {
    const { res, data, out } = await launch({ instanceType: "m7i.large", spot: true, dryRun: true });
    assert.equal(res.exitCode ?? 0, 0);
    assert.deepEqual(out.infos.join("\n").split("\n"), [
      "Estimate: 1 × m7i.large — 1 spot at $0.0302/hr (us-east-1b) = $0.0302/hr",
      "Spot savings: 70% ($0.0302/hr vs $0.1008/hr on-demand)",
    ]);
    assert.equal(data.estimate.savings_pct, 70);
    assert.equal(fx.server.received("RunInstances", true).length, 0);
    assert.equal(fx.server.received("CreateFleet", true).length, 0);
  });

  test("--spot --spot-max-price: the estimate comes first, then one spot RunInstances with the max price", async () => {
    const { data, out } = await launch({ instanceType: "m7i.large", spot: true, spotMaxPrice: "0.05" });
    assert.match(out.infos[0] ?? "", /^Estimate: /);
    assert.equal(data.instances.length, 1);
    assert.equal(data.instances[0]?.spot, true);
    const run = fx.server.received("RunInstances").at(-1);
    assert.ok(run);
    assert.equal(run["InstanceMarketOptions.MarketType"], "spot");
    assert.equal(run["InstanceMarketOptions.SpotOptions.MaxPrice"], "0.05");
    assert.equal(run.ClientToken, `spotrun-${data.id}-a0-n0`);
    const tags = tagSpecifications(run).get("instance");
    assert.equal(tags?.[TAG.job], data.id);
    assert.equal(tags?.[TAG.spot], "true");
    assert.equal(tags?.[TAG.maxPrice], "0.05");
    assert.equal(tags?.[TAG.managed], undefined, "a direct launch is not the reaper's to take");
  });

  test("spot refused: --spot-fallback launches on-demand under a new token; without it, exit 4 with the code", async () => {
    fx.server.refuse({ action: "RunInstances", market: "spot", instanceType: "c7i.large", code: "InsufficientInstanceCapacity" });
    const { data, out } = await launch({ instanceType: "c7i.large", spot: true, spotFallback: true });
    assert.equal(data.instances.length, 1);
    assert.equal(data.instances[0]?.spot, false);
    assert.equal(data.instances[0]?.fell_back_to_on_demand, true);
    assert.ok(out.infos.some((m) => /falling back to on-demand/.test(m)));
    const tries = fx.server.requests.filter((r) => r.action === "RunInstances" && r.params.InstanceType === "c7i.large");
    assert.deepEqual(
      tries.map((r) => [r.params["InstanceMarketOptions.MarketType"] ?? "on-demand", r.status, r.errorCode]),
      [
        ["spot", 400, "InsufficientInstanceCapacity"],
        ["on-demand", 200, undefined],
      ],
    );
    assert.equal(tries[1]?.params.ClientToken, `${tries[0]?.params.ClientToken}-od`);

    await assert.rejects(launch({ instanceType: "c7i.large", spot: true }), (e: unknown) => {
      assert.ok(e instanceof SpotrunError);
      assert.equal(e.exitCode, 4);
      assert.equal(e.code, "InsufficientInstanceCapacity");
      assert.match(e.oneLine(), /— add --spot-fallback/);
      return true;
    });
  });

  test("--instance-types a,b,c --spot → one instant fleet with an override per type", async () => {
    const { data } = await launch({ instanceTypes: "m7i.large,m6i.large,m5.large", spot: true });
    assert.equal(data.instances.length, 1);
    const fleet = fx.server.received("CreateFleet").at(-1);
    assert.ok(fleet);
    assert.equal(fleet.Type, "instant");
    assert.deepEqual(
      ["1", "2", "3"].map((n) => fleet[`LaunchTemplateConfigs.1.Overrides.${n}.InstanceType`]),
      ["m7i.large", "m6i.large", "m5.large"],
    );
    assert.equal(fleet["SpotOptions.AllocationStrategy"], "price-capacity-optimized");
  });

  test("--count 8 --job-array-name training --spot-count 6: six spot members, two on-demand; list and terminate them", async () => {
    const before = fx.server.received("RunInstances").length;
    const { data, out } = await launch({ count: "8", jobArrayName: "training", spot: true, spotCount: "6" });
    const lines = out.infos.join("\n").split("\n");
    assert.equal(
      lines[0],
      "Estimate: 8 × m7i.large — 6 spot at $0.0302/hr (us-east-1b) + 2 on-demand at $0.1008/hr = $0.3828/hr",
    );
    assert.equal(lines[1], "Spot savings: 53% ($0.3828/hr vs $0.8064/hr on-demand)");
    const runs = fx.server.received("RunInstances").slice(before);
    assert.equal(runs.length, 8);
    assert.deepEqual(
      runs.map((r) => sub(r, "InstanceMarketOptions").MarketType ?? "on-demand"),
      ["spot", "spot", "spot", "spot", "spot", "spot", "on-demand", "on-demand"],
    );
    assert.equal(new Set(runs.map((r) => r.ClientToken)).size, 8, "one ClientToken per member");
    assert.deepEqual(
      runs.map((r) => tagSpecifications(r).get("instance")?.[TAG.node]),
      ["0", "1", "2", "3", "4", "5", "6", "7"],
    );
    assert.ok(runs.every((r) => tagSpecifications(r).get("instance")?.["spotrun:job-array"] === "training"));
    assert.deepEqual(
      data.instances.map((i) => i.spot),
      [true, true, true, true, true, true, false, false],
    );

    const listed = await fx.provider.list({ [TAG.job]: data.id, "spotrun:job-array": "training" });
    assert.equal(listed.length, 8);
    assert.equal(listed.filter((i) => i.spot).length, 6);

    const { ctx } = commandContext(fx.home);
    const term = await terminateCommand.run(
      ctx,
      data.instances.map((i) => i.id),
      { provider: "aws" },
    );
    const rows = (term.data as { terminated: { id: string; state: string }[] }).terminated;
    assert.equal(rows.length, 8);
    assert.ok(rows.every((r) => r.state === "terminated"));
    const sent = fx.server.received("TerminateInstances").at(-1) ?? {};
    assert.equal(Object.keys(sent).filter((k) => k.startsWith("InstanceId.")).length, 8);
  });

  test("a local --checkpoint-script travels inside the user data; its path is tagged", async () => {
    const script = join(fx.home, "save_checkpoint.sh");
    await writeFile(script, "#!/bin/bash\necho saving\n");
    await launch({ instanceType: "m7i.large", spot: true, checkpointScript: script });
    const run = fx.server.received("RunInstances").at(-1);
    assert.ok(run);
    assert.equal(tagSpecifications(run).get("instance")?.[TAG.checkpointScript], script);
    const userData = Buffer.from(run.UserData ?? "", "base64").toString();
    assert.match(userData, /<<'SPOTRUN_CHECKPOINT_EOF'\n#!\/bin\/bash\necho saving\nSPOTRUN_CHECKPOINT_EOF\n/);
    assert.match(userData, /"checkpoint_script": "\/etc\/spotrun\/checkpoint\.sh"/);
  });

  test("an AWS error that is not a refusal is one line with its code and what to do (exit 1)", async () => {
    fx.server.refuse({ action: "RunInstances", instanceType: "m5.large", code: "UnauthorizedOperation", times: 1 });
    await assert.rejects(launch({ instanceType: "m5.large" }), (e: unknown) => {
      assert.ok(e instanceof SpotrunError);
      assert.equal(e.exitCode, 1);
      assert.equal(e.code, "UnauthorizedOperation");
      assert.match(
        e.oneLine(),
        /^aws RunInstances failed: UnauthorizedOperation: .* — grant the permissions in docs\/aws\/iam-policy\.json/,
      );
      assert.doesNotMatch(e.oneLine(), /\n/);
      return true;
    });
  });

  test("bad flag combinations are usage errors (exit 2) and launch nothing", async () => {
    const before = fx.server.requests.length;
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ count: "8" }, /needs a name for the array — add --job-array-name/],
      [{ count: "8", jobArrayName: "t", spotCount: "9" }, /--spot-count 9 is more than --count 8/],
      [{ instanceType: "a", instanceTypes: "b,c" }, /both given/],
      [{ spotMaxPrice: "0.05" }, /--spot-max-price without --spot/],
      [{ spot: true, spotMaxPrice: "cheap" }, /is not a price/],
      [{ checkpointScript: "/nonexistent/x.sh" }, /does not exist/],
      [{ checkpointScript: "ftp://x/y.sh" }, /unsupported URL — give a local path, s3:\/\/bucket\/key or an http\(s\):\/\/ URL/],
    ];
    for (const [opts, re] of cases)
      await assert.rejects(launch(opts), (e: unknown) => {
        assert.ok(e instanceof SpotrunError, String(e));
        assert.equal(e.exitCode, 2);
        assert.match(e.oneLine(), re);
        return true;
      });
    assert.equal(fx.server.requests.length, before);
  });
});
