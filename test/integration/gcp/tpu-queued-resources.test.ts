import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import type { TpuProgress } from "../../../src/providers/gcp/tpu-slices.js";
import { TpuServer } from "../../servers/gcp/tpu-server.js";
import { type Fixture, launchRequest, PROJECT, providerFor } from "./gcp-fixture.js";

type Json = Record<string, unknown>;
const ZONE = "us-central2-b";

describe("Cloud TPU spot slices through @google-cloud/tpu v2 queued resources", () => {
  let server: TpuServer;
  let fx: Fixture;
  const progress: TpuProgress[] = [];

  before(async () => {
    server = await new TpuServer(PROJECT).start();
    fx = await providerFor(server.http, { tpuPollMs: 5, tpuWaitMs: 5_000, onProgress: (p) => progress.push(p) });
  });
  after(async () => {
    await fx?.close();
    await server?.close();
  });
  beforeEach(() => {
    server.http.received.length = 0;
    progress.length = 0;
    server.plans.delete("v4-32");
  });

  const tpuRequest = (token: string, tpu: string) =>
    launchRequest({ token, instanceTypes: [], resources: { tpu, zone: ZONE, spot: true } });

  test("a 4-worker v4-32 slice is followed WAITING_FOR_RESOURCES → ACTIVE, preempted, recovered, and every resource deleted", async () => {
    server.plans.set("v4-32", {
      states: ["WAITING_FOR_RESOURCES", "WAITING_FOR_RESOURCES", "PROVISIONING", "ACTIVE"],
      workers: 4,
    });
    const r = await fx.provider.launch(tpuRequest("spotrun-j-tpu-a1-n0", "v4-32"));
    assert.ok(r.kind === "launched", JSON.stringify(r));

    const create = server.apiCalls.find((c) => c.method === "POST" && c.path.endsWith("/queuedResources"));
    assert.ok(create);
    assert.equal(create.path, `/v2/projects/${PROJECT}/locations/${ZONE}/queuedResources`);
    const qrId = create.query.get("queuedResourceId") ?? "";
    assert.match(qrId, /^spotrun-j-tpu-a1-n0-[0-9a-f]{8}$/);
    assert.match(create.query.get("requestId") ?? "", /^[0-9a-f]{8}-[0-9a-f]{4}-4/);
    const body = create.json as Json;
    assert.deepEqual(body.spot, {});
    const spec = ((body.tpu as Json).nodeSpec as Json[])[0] as Json;
    assert.equal(spec.parent, `projects/${PROJECT}/locations/${ZONE}`);
    assert.equal(spec.nodeId, qrId);
    const node = spec.node as Json;
    assert.equal(node.acceleratorType, "v4-32");
    assert.equal(node.runtimeVersion, "tpu-ubuntu2204-base");
    assert.deepEqual(node.schedulingConfig, { spot: true });
    assert.equal((node.labels as Json)["spotrun-job"], "j-abc");
    // Every worker boots with the same startup-script: it writes the ready marker the controller
    // waits for and installs nothing (the controller ships Node and its own agent over SSH).
    const startup = String((node.metadata as Json)["startup-script"]);
    assert.match(startup, /^#!\/bin\/bash\n/);
    assert.match(startup, /^touch \/var\/lib\/spotrun\/boot-ready$/m);
    assert.doesNotMatch(startup, /\b(npm|npx|apt-get|apt|pip3?|curl|wget|node)\b/);
    const shutdown = String((node.metadata as Json)["shutdown-script"]);
    assert.match(shutdown, /"\$home\/\.spotrun\/bin\/spotrun" agent save --config "\$cfg" --reason shutdown/);
    assert.doesNotMatch(shutdown, /\b(npm|npx|apt-get|curl|wget)\b/);

    assert.deepEqual(
      progress.map((p) => p.state),
      ["WAITING_FOR_RESOURCES", "PROVISIONING", "ACTIVE"],
    );
    assert.equal(r.instances.length, 4, "one InstanceInfo per worker");
    assert.deepEqual(
      r.instances.map((i) => i.address),
      ["127.0.1.1", "127.0.1.2", "127.0.1.3", "127.0.1.4"],
    );
    assert.deepEqual(
      r.instances.map((i) => [i.tags["spotrun:worker"], i.tags["spotrun:workers"], i.tags["spotrun:internal-ip"]]),
      [
        ["0", "4", "10.130.0.2"],
        ["1", "4", "10.130.0.3"],
        ["2", "4", "10.130.0.4"],
        ["3", "4", "10.130.0.5"],
      ],
    );
    assert.ok(r.instances.every((i) => i.status === "running" && i.spot && i.instanceType === "v4-32" && !i.interrupted));

    server.preempt(qrId);
    const seen = await fx.provider.describe(r.instances.map((i) => i.id));
    assert.equal(seen.length, 4);
    assert.ok(
      seen.every((i) => i.interrupted?.reason === "tpu-node-preempted" && i.status === "terminated"),
      JSON.stringify(seen),
    );

    server.http.received.length = 0;
    await fx.provider.terminate(r.instances.map((i) => i.id));
    const deletes = server.apiCalls.filter((c) => c.method === "DELETE").map((c) => c.path);
    assert.deepEqual(deletes, [
      `/v2/projects/${PROJECT}/locations/${ZONE}/nodes/${qrId}`,
      `/v2/projects/${PROJECT}/locations/${ZONE}/queuedResources/${qrId}`,
    ]);
    assert.equal(server.nodes.size, 0);
    assert.equal(server.queued.size, 0);

    // The next attempt (new token) gets a new slice: the job is placed again.
    const again = await fx.provider.launch(tpuRequest("spotrun-j-tpu-a2-n0", "v4-32"));
    assert.ok(again.kind === "launched");
    assert.equal(again.instances.length, 4);
    await fx.provider.terminate(again.instances.map((i) => i.id));
    assert.equal(server.queued.size, 0);
  });

  test("a single-host v5litepod-8 slice has one worker and boots the v5e runtime", async () => {
    const r = await fx.provider.launch(tpuRequest("t-v5e", "v5litepod-8"));
    assert.ok(r.kind === "launched");
    assert.equal(r.instances.length, 1);
    const create = server.apiCalls.find((c) => c.method === "POST");
    assert.equal(
      ((((create!.json as Json).tpu as Json).nodeSpec as Json[])[0]!.node as Json).runtimeVersion,
      "v2-alpha-tpuv5-lite",
    );
    await fx.provider.terminate(r.instances.map((i) => i.id));
    assert.equal(server.queued.size, 0);
  });

  test("a queued resource that ends FAILED is a capacity refusal and is deleted", async () => {
    server.plans.set("v4-32", { states: ["WAITING_FOR_RESOURCES", "FAILED"], workers: 4 });
    const r = await fx.provider.launch(tpuRequest("t-failed", "v4-32"));
    assert.ok(r.kind === "refused");
    assert.equal(r.refusal, "capacity");
    assert.equal(r.code, "TPU_QUEUED_RESOURCE_FAILED_8");
    assert.ok(server.apiCalls.some((c) => c.method === "DELETE" && c.path.includes("/queuedResources/")));
    assert.equal(server.queued.size, 0);
  });

  test("a queued resource still waiting when the wait expires is refused and deleted", async () => {
    server.plans.set("v4-32", { states: ["WAITING_FOR_RESOURCES"], workers: 4 });
    const short = await providerFor(server.http, { tpuPollMs: 5, tpuWaitMs: 60 });
    try {
      const r = await short.provider.launch(tpuRequest("t-wait", "v4-32"));
      assert.ok(r.kind === "refused");
      assert.equal(r.code, "TPU_WAIT_EXPIRED");
      const create = server.apiCalls.find((c) => c.method === "POST");
      assert.deepEqual((create!.json as Json).queueingPolicy, { validUntilDuration: "1s" });
      assert.equal(server.queued.size, 0);
    } finally {
      await short.close();
    }
  });

  test("relaunching the same token adopts the existing queued resource", async () => {
    const a = await fx.provider.launch(tpuRequest("t-adopt", "v5litepod-8"));
    const b = await fx.provider.launch(tpuRequest("t-adopt", "v5litepod-8"));
    assert.ok(a.kind === "launched" && b.kind === "launched");
    assert.deepEqual(
      a.instances.map((i) => i.id),
      b.instances.map((i) => i.id),
    );
    assert.equal(server.queued.size, 1);
    // list() covers TPU slices (across zones) even in a project without Compute Engine enabled.
    const byLabel = await fx.provider.list({ "spotrun:job": "j-abc" });
    assert.deepEqual(
      byLabel.map((i) => i.id),
      a.instances.map((i) => i.id),
    );
    assert.ok(server.apiCalls.some((c) => c.path === `/v2/projects/${PROJECT}/locations/-/nodes`));
    const listed = await fx.provider.describe(a.instances.map((i) => i.id));
    assert.equal(listed[0]?.status, "running");
    await fx.provider.terminate(a.instances.map((i) => i.id));
    assert.equal(server.queued.size, 0);
  });
});
