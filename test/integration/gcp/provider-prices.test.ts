import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { resourcesSchema } from "../../../src/spec/task-schema.js";
import { ComputeServer } from "../../servers/gcp/compute-server.js";
import { TpuServer } from "../../servers/gcp/tpu-server.js";
import { type Fixture, launchRequest, PROJECT, providerFor } from "./gcp-fixture.js";

describe("GcpProvider fills list prices into offers and instances", () => {
  let compute: ComputeServer;
  let tpu: TpuServer;
  let vmFx: Fixture;
  let tpuFx: Fixture;

  before(async () => {
    compute = await new ComputeServer({ project: PROJECT }).start();
    tpu = await new TpuServer(PROJECT).start();
    vmFx = await providerFor(compute.http);
    tpuFx = await providerFor(tpu.http, { tpuPollMs: 5, tpuWaitMs: 5_000 });
  });
  after(async () => {
    await vmFx?.close();
    await tpuFx?.close();
    await compute?.close();
    await tpu?.close();
  });

  test("a spot VM launched and described carries its spot price, below on-demand", async () => {
    const r = await vmFx.provider.launch(launchRequest({ token: "t-price-spot", zone: "us-central1-a" }));
    assert.ok(r.kind === "launched", JSON.stringify(r));
    const [inst] = r.instances;
    assert.ok(inst);
    assert.equal(inst.instanceType, "n2-standard-4");
    assert.equal(inst.spot, true, "the server's SPOT scheduling read back");
    assert.ok(inst.pricePerHour > 0, `spot price ${inst.pricePerHour}`);
    assert.equal(inst.onDemandPricePerHour, 0.194236);
    assert.ok(inst.pricePerHour < inst.onDemandPricePerHour);
    const [again] = await vmFx.provider.describe([inst.id]);
    assert.equal(again?.pricePerHour, inst.pricePerHour);
    await vmFx.provider.terminate([inst.id]);
  });

  test("an on-demand VM costs its on-demand price; an unknown machine type stays 0", async () => {
    const od = await vmFx.provider.launch(launchRequest({ token: "t-price-od", zone: "us-central1-a", spot: false }));
    assert.ok(od.kind === "launched");
    assert.equal(od.instances[0]?.spot, false);
    assert.equal(od.instances[0]?.pricePerHour, 0.194236);
    const odd = await vmFx.provider.launch(
      launchRequest({ token: "t-price-odd", zone: "us-central1-a", instanceTypes: ["n2-custom-6-20480"] }),
    );
    assert.ok(odd.kind === "launched");
    assert.equal(odd.instances[0]?.pricePerHour, 0);
    assert.equal(odd.instances[0]?.onDemandPricePerHour, 0);
    await vmFx.provider.terminate([...od.instances, ...odd.instances].map((i) => i.id));
  });

  test("offers are priced per zone's region, and say whether the price is known", async () => {
    const offers = await vmFx.provider.offers(
      resourcesSchema.parse({ provider: "gcp", zone: "europe-west4-a", spot: true, instance_types: ["g2-standard-4", "zz-9"] }),
    );
    const [g2, unknown] = offers;
    assert.ok(g2 && unknown);
    assert.ok(g2.pricePerHour > 0 && g2.pricePerHour < g2.onDemandPricePerHour);
    assert.equal(g2.detail?.priceKnown, true);
    assert.equal(unknown.pricePerHour, 0);
    assert.equal(unknown.detail?.priceKnown, false);
  });

  test("a spot v4-32 slice (16 chips, 4 workers): each worker carries a quarter, the workers sum to the slice", async () => {
    tpu.plans.set("v4-32", { states: ["PROVISIONING", "ACTIVE"], workers: 4 });
    const r = await tpuFx.provider.launch(
      launchRequest({ token: "t-price-tpu", instanceTypes: [], resources: { tpu: "v4-32", zone: "us-central2-b", spot: true } }),
    );
    assert.ok(r.kind === "launched", JSON.stringify(r));
    assert.equal(r.instances.length, 4);
    const sum = r.instances.reduce((a, i) => a + i.pricePerHour, 0);
    const sumOd = r.instances.reduce((a, i) => a + i.onDemandPricePerHour, 0);
    assert.ok(Math.abs(sumOd - 16 * 3.22) < 1e-9, `on-demand slice ${sumOd}`);
    assert.ok(sum > 0 && sum < sumOd, `spot slice ${sum}`);
    for (const i of r.instances) assert.equal(i.pricePerHour, r.instances[0]?.pricePerHour);
    // describe reads spot back from the node's schedulingConfig: the same spot share.
    const described = await tpuFx.provider.describe(r.instances.map((i) => i.id));
    assert.deepEqual(
      described.map((i) => [i.spot, i.pricePerHour]),
      r.instances.map((i) => [true, i.pricePerHour]),
    );
    const offers = await tpuFx.provider.offers(
      resourcesSchema.parse({ provider: "gcp", tpu: "v4-32", zone: "us-central2-b", spot: true }),
    );
    assert.ok(Math.abs((offers[0]?.pricePerHour ?? 0) - sum) < 1e-9, "the offer prices the whole slice");
    await tpuFx.provider.terminate(r.instances.map((i) => i.id));
  });
});
