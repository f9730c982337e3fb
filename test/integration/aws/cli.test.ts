import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { TAG } from "../../../src/providers/provider.js";
import { tagSpecifications } from "../../servers/ec2/query-params.js";
import { type Ec2Fixture, priceTable, startEc2Fixture } from "./ec2-fixture.js";

/** The commands as a user runs them: `node bin/spotrun.js …`, AWS reached through the environment only. */
let fx: Ec2Fixture;
const BIN = join(process.cwd(), "bin", "spotrun.js");

function spotrun(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, "--home", fx.home, ...args],
      { env: { ...process.env, NO_COLOR: "1", ...env }, timeout: 30_000 },
      (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

before(async () => {
  fx = await startEc2Fixture();
  fx.server.setSpotPrices(
    priceTable(Date.now(), { "m7i.large": { "us-east-1a": 0.0302 }, "g5.xlarge": { "us-east-1b": 0.3018 } }),
  );
  fx.server.products = [{ instanceType: "g5.xlarge", regionCode: "us-east-1", usdPerHour: 1.006 }];
});
after(async () => fx.close());

test("launch --dry-run --json: one JSON document on stdout, the estimate on stderr, exit 0, nothing launched", async () => {
  const r = await spotrun([
    "launch",
    "--count",
    "8",
    "--job-array-name",
    "training",
    "--instance-type",
    "g5.xlarge",
    "--spot",
    "--dry-run",
    "--json",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as {
    dry_run: boolean;
    estimate: { hourly_usd: number; on_demand_hourly_usd: number; savings_pct: number };
  };
  assert.equal(doc.dry_run, true);
  assert.deepEqual([doc.estimate.hourly_usd, doc.estimate.on_demand_hourly_usd, doc.estimate.savings_pct], [2.4144, 8.048, 70]);
  assert.match(r.stderr, /Estimate: 8 × g5\.xlarge — 8 spot at \$0\.3018\/hr \(us-east-1b\) = \$2\.4144\/hr/);
  assert.match(r.stderr, /Spot savings: 70% \(\$2\.4144\/hr vs \$8\.0480\/hr on-demand\)/);
  assert.equal(fx.server.received("RunInstances", true).length, 0);
});

test("launch then terminate as a person would: a table, then the instance gone", async () => {
  const r = await spotrun(["launch", "--instance-type", "m7i.large", "--spot", "--spot-max-price", "0.05"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^INSTANCE\s+NODE\s+MARKET\s+TYPE\s+ZONE\s+PRICE\/H\s+STATE$/m);
  const id = /^(i-[0-9a-f]{17})\s+0\s+spot/m.exec(r.stdout)?.[1];
  assert.ok(id, r.stdout);
  const run = fx.server.received("RunInstances").at(-1) ?? {};
  assert.equal(tagSpecifications(run).get("instance")?.[TAG.maxPrice], "0.05");
  const t = await spotrun(["terminate", id, "--json"]);
  assert.equal(t.code, 0, t.stderr);
  assert.deepEqual(JSON.parse(t.stdout), { terminated: [{ id, provider: "aws", state: "terminated" }] });
});

test("exit codes: 4 when spot is refused without --spot-fallback, 2 for bad usage; one line on stderr", async () => {
  fx.server.refuse({
    action: "RunInstances",
    market: "spot",
    instanceType: "m7i.large",
    code: "InsufficientInstanceCapacity",
    times: 1,
  });
  const refused = await spotrun(["launch", "--instance-type", "m7i.large", "--spot"]);
  assert.equal(refused.code, 4);
  const line = refused.stderr.trim().split("\n").at(-1) ?? "";
  assert.match(line, /^spotrun: launch refused: capacity .*\[InsufficientInstanceCapacity\] — add --spot-fallback/);
  const usage = await spotrun(["launch", "--count", "8"]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--count 8 needs a name for the array — add --job-array-name NAME/);
});

test("catalog update --json through the Pricing endpoint in AWS_ENDPOINT_URL_PRICING", async () => {
  const r = await spotrun(["catalog", "update", "--regions", "us-east-1", "--types", "g5.xlarge", "--json"], {
    AWS_ENDPOINT_URL_PRICING: fx.server.url,
  });
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { id: string; prices_usd_per_hour: Record<string, Record<string, number>> };
  assert.equal(doc.id, "aws-on-demand");
  assert.deepEqual(doc.prices_usd_per_hour, { "us-east-1": { "g5.xlarge": 1.006 } });
});
