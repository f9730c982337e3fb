import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { SpotrunError } from "../../../src/base/errors.js";
import { TAG } from "../../../src/providers/provider.js";
import { type Ec2Fixture, priceTable, startEc2Fixture } from "./ec2-fixture.js";

/** What a user sees when EC2 stalls, throttles, or there are no credentials at all. */
let fx: Ec2Fixture;
const BIN = join(process.cwd(), "bin", "spotrun.js");

function spotrun(args: string[], env: Record<string, string | undefined> = {}) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      [BIN, "--home", fx.home, ...args],
      { env: { ...process.env, NO_COLOR: "1", ...env }, timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

before(async () => {
  fx = await startEc2Fixture({}, { requestTimeoutMs: 400 });
  fx.server.setSpotPrices(priceTable(Date.now(), { "m7i.large": { "us-east-1a": 0.0302 } }));
});
after(async () => fx.close());

test("a call EC2 never answers is abandoned after the request timeout and retried, not waited on", async () => {
  await fx.provider.launch({
    token: "tok-stall",
    instanceTypes: ["m7i.large"],
    spot: false,
    count: 1,
    tags: { [TAG.job]: "j-stall" },
    resources: (await import("../../../src/spec/task-schema.js")).resourcesSchema.parse({ provider: "aws" }),
  });
  fx.server.stall(2, "DescribeInstances");
  const t0 = Date.now();
  const listed = await fx.provider.list({ [TAG.job]: "j-stall" });
  assert.equal(listed.length, 1);
  const tries = fx.server.requests.filter((r) => r.action === "DescribeInstances" && r.params["Filter.1.Value.1"] === "j-stall");
  assert.deepEqual(
    tries.map((r) => r.status),
    [0, 0, 200],
    "two silent requests, then the answer",
  );
  assert.ok(Date.now() - t0 < 10_000, `${Date.now() - t0} ms`);
});

test("no credentials anywhere: exit 2, the fix, the SDK's code; a provider call throws the user's error", async () => {
  const none = {
    AWS_ACCESS_KEY_ID: undefined,
    AWS_SECRET_ACCESS_KEY: undefined,
    AWS_SHARED_CREDENTIALS_FILE: join(fx.home, "no-credentials"),
    AWS_CONFIG_FILE: join(fx.home, "no-config"),
    // The chain's last resort is the instance role: no metadata server answers here.
    AWS_EC2_METADATA_DISABLED: "true",
  };
  for (const args of [
    ["list", "--provider", "aws"],
    ["launch", "--instance-type", "m7i.large", "--dry-run"],
  ]) {
    const r = await spotrun(args, none);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.equal(r.stderr.split("\n").filter(Boolean).length, 1, r.stderr);
    assert.match(
      r.stderr,
      /^spotrun: aws \w+: no AWS credentials found .*\[CredentialsProviderError\] — configure AWS credentials/,
    );
  }
  const { toProviderError } = await import("../../../src/providers/aws/aws-error.js");
  const e = toProviderError(Object.assign(new Error("Could not load credentials"), { name: "CredentialsProviderError" }), "X");
  assert.ok(e instanceof SpotrunError && e.exitCode === 2);
});

test("list under throttling: retry later, with the code", async () => {
  fx.server.throttle(100, "DescribeInstances");
  const r = await spotrun(["list", "--provider", "aws"]);
  fx.server.clearFaults();
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /^spotrun: aws DescribeInstances failed: RequestLimitExceeded: .*\[RequestLimitExceeded\] — aws is throttling or unavailable; retry in a minute\n$/,
  );
});

test("launch when the price lookup is throttled: one line, two tries for the estimate, then the launch", async () => {
  const before = fx.server.requests.length;
  fx.server.throttle(100, "DescribeSpotPriceHistory");
  const r = await spotrun(["launch", "--instance-type", "m7i.large", "--spot", "--json"]);
  fx.server.clearFaults();
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stderr,
    "warning: no estimate: aws DescribeSpotPriceHistory failed: RequestLimitExceeded: Request limit exceeded.\n",
  );
  const actions = fx.server.requests.slice(before).map((q) => q.action);
  const firstRun = actions.indexOf("RunInstances");
  assert.ok(firstRun > 0, actions.join(" "));
  assert.equal(actions.slice(0, firstRun).filter((a) => a === "DescribeSpotPriceHistory").length, 2, actions.join(" "));
  const id = (JSON.parse(r.stdout) as { instances: { id: string }[] }).instances[0]?.id;
  assert.ok(id);
  await spotrun(["terminate", id]);
});
