import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, before, test } from "node:test";
import { catalogUpdateCommand } from "../../../src/cli/commands/catalog.js";
import { loadOnDemandCatalog, onDemandPrice, userCatalogPath } from "../../../src/providers/aws/on-demand-catalog.js";
import { commandContext } from "./command-context.js";
import { type Ec2Fixture, startEc2Fixture } from "./ec2-fixture.js";

let fx: Ec2Fixture;
before(async () => {
  fx = await startEc2Fixture({ pageSize: 2 });
  process.env.AWS_ENDPOINT_URL_PRICING = fx.server.url;
  fx.server.products = [
    { instanceType: "m7i.large", regionCode: "us-east-1", usdPerHour: 0.1111 },
    { instanceType: "g5.xlarge", regionCode: "us-east-1", usdPerHour: 1.2345 },
    { instanceType: "p3.2xlarge", regionCode: "us-east-1", usdPerHour: 3.06 },
    // Same type, other products: must not be taken for the plain Linux on-demand price.
    { instanceType: "m7i.large", regionCode: "us-east-1", usdPerHour: 0.9, operatingSystem: "Windows" },
    { instanceType: "m7i.large", regionCode: "us-east-1", usdPerHour: 0.8, tenancy: "Dedicated" },
    { instanceType: "m7i.large", regionCode: "us-east-1", usdPerHour: 0.0, capacitystatus: "UnusedCapacityReservation" },
    { instanceType: "m7i.large", regionCode: "eu-west-1", usdPerHour: 0.1234 },
  ];
});
after(async () => {
  delete process.env.AWS_ENDPOINT_URL_PRICING;
  await fx.close();
});

test("catalog update: GetProducts with the Linux/shared filters, paged, written atomically and used by the provider", async () => {
  const { ctx, out } = commandContext(fx.home);
  const res = await catalogUpdateCommand.run(ctx, [], {
    regions: "us-east-1,eu-west-1",
    types: "m7i.large,g5.xlarge,p3.2xlarge",
  });
  const data = res.data as {
    path: string;
    prices_count: number;
    missing: string[];
    prices_usd_per_hour: Record<string, Record<string, number>>;
  };
  assert.equal(data.path, userCatalogPath(fx.home));
  assert.deepEqual(data.prices_usd_per_hour, {
    "us-east-1": { "g5.xlarge": 1.2345, "m7i.large": 0.1111, "p3.2xlarge": 3.06 },
    "eu-west-1": { "m7i.large": 0.1234 },
  });
  assert.deepEqual(data.missing, ["eu-west-1/g5.xlarge", "eu-west-1/p3.2xlarge"]);
  assert.equal(out.warns.length, 2);

  const calls = fx.server.requests.filter((r) => r.action === "GetProducts");
  assert.equal(calls.length, 3, "us-east-1 has 3 matching products at 2 per page: 2 pages; eu-west-1: 1");
  assert.ok(calls.every((c) => c.status === 200 && c.service === "pricing" && c.region === "us-east-1"));
  const first = calls[0]?.params ?? {};
  assert.equal(first.ServiceCode, "AmazonEC2");
  const filters = Object.fromEntries(
    [1, 2, 3, 4, 5, 6].map((i) => [first[`Filters.${i}.Field`], `${first[`Filters.${i}.Type`]}:${first[`Filters.${i}.Value`]}`]),
  );
  assert.deepEqual(filters, {
    regionCode: "TERM_MATCH:us-east-1",
    operatingSystem: "TERM_MATCH:Linux",
    tenancy: "TERM_MATCH:Shared",
    preInstalledSw: "TERM_MATCH:NA",
    capacitystatus: "TERM_MATCH:Used",
    instanceType: "ANY_OF:m7i.large,g5.xlarge,p3.2xlarge",
  });
  assert.equal(calls[1]?.params.NextToken, "2");

  const onDisk = JSON.parse(await readFile(data.path, "utf8"));
  assert.match(onDisk.source, /Price List Query API/);
  const merged = await loadOnDemandCatalog(fx.home);
  assert.equal(onDemandPrice(merged, "us-east-1", "m7i.large"), 0.1111, "the refreshed price wins");
  assert.equal(onDemandPrice(merged, "us-east-1", "m5.large"), 0.096, "the shipped catalog fills the rest");
});
