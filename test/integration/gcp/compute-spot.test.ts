import assert from "node:assert/strict";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, beforeEach, describe, test } from "node:test";
import { ComputeServer } from "../../servers/gcp/compute-server.js";
import { type Fixture, launchRequest, PROJECT, providerFor } from "./gcp-fixture.js";

type Json = Record<string, unknown>;

describe("GCP Compute spot VMs through @google-cloud/compute", () => {
  let server: ComputeServer;
  let fx: Fixture;

  before(async () => {
    server = await new ComputeServer({ project: PROJECT }).start();
    fx = await providerFor(server.http);
  });
  after(async () => {
    await fx?.close();
    await server?.close();
  });
  beforeEach(() => {
    server.instances.clear();
    server.failures.clear();
    server.http.received.length = 0;
  });

  const inserts = () => server.apiCalls.filter((r) => r.method === "POST" && /\/zones\/[^/]+\/instances$/.test(r.path));

  test("a spot insert carries SPOT scheduling, mapped labels and the agent scripts, and waits on the zone operation", async () => {
    const r = await fx.provider.launch(launchRequest({ zone: "us-central1-a" }));
    assert.equal(r.kind, "launched");
    assert.ok(r.kind === "launched");
    const [ins] = inserts();
    assert.ok(ins, "the server received an insert");
    assert.equal(ins.path, `/compute/v1/projects/${PROJECT}/zones/us-central1-a/instances`);
    assert.match(ins.query.get("requestId") ?? "", /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const body = ins.json as Json;
    assert.deepEqual(body.scheduling, {
      provisioningModel: "SPOT",
      instanceTerminationAction: "DELETE",
      automaticRestart: false,
      onHostMaintenance: "TERMINATE",
    });
    const labels = body.labels as Record<string, string>;
    assert.equal(labels["spotrun-job"], "j-abc");
    assert.equal(labels["spotrun-attempt"], "j-abc-a1");
    assert.equal(labels["spotrun-node"], "0");
    assert.match(String(body.machineType), /zones\/us-central1-a\/machineTypes\/n2-standard-4$/);
    const items = (body.metadata as { items: { key: string; value: string }[] }).items;
    const md = Object.fromEntries(items.map((i) => [i.key, i.value]));
    assert.doesNotMatch(md["startup-script"] ?? "", /npm|curl|apt-get/, "the startup script installs nothing");
    assert.match(md["shutdown-script"] ?? "", /"\$home\/\.spotrun\/bin\/spotrun" agent save --config "\$cfg" --reason shutdown/);
    assert.equal(fx.provider.bootMarkers()?.ready, "/var/lib/spotrun/boot-ready");
    assert.ok(
      server.apiCalls.some(
        (c) => c.method === "POST" && c.path.endsWith("/wait") && c.path.includes("/zones/us-central1-a/operations/"),
      ),
      "waited on the zone operation",
    );
    const [inst] = r.instances;
    assert.equal(inst?.zone, "us-central1-a");
    assert.equal(inst?.spot, true);
    assert.equal(inst?.status, "running");
    assert.equal(inst?.address, "127.0.0.1");
    assert.equal(inst?.tags["spotrun:job"], "j-abc");
    assert.ok(server.apiCalls.every((c) => c.headers.authorization === "Bearer compute-test-token"));
  });

  test("STOP termination action when the task asks to stop; the older preemptible flag when configured", async () => {
    await fx.provider.launch(launchRequest({ token: "t-stop", zone: "us-central1-a", resources: { on_interruption: "stop" } }));
    assert.equal(((inserts()[0]!.json as Json).scheduling as Json).instanceTerminationAction, "STOP");
    const legacy = await providerFor(server.http, { legacyPreemptible: true });
    try {
      await legacy.provider.launch(launchRequest({ token: "t-legacy", zone: "us-central1-a" }));
      assert.deepEqual((inserts()[1]!.json as Json).scheduling, {
        preemptible: true,
        automaticRestart: false,
        onHostMaintenance: "TERMINATE",
      });
    } finally {
      await legacy.close();
    }
  });

  test("spotrun's SSH public key goes into the ssh-keys metadata for the SSH user", async () => {
    await mkdir(join(fx.dir, "keys"), { recursive: true });
    await writeFile(join(fx.dir, "keys", "id_ed25519.pub"), "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGtest spotrun\n");
    try {
      await fx.provider.launch(launchRequest({ token: "t-key", zone: "us-central1-a" }));
      const items = ((inserts()[0]!.json as Json).metadata as { items: { key: string; value: string }[] }).items;
      assert.equal(items.find((i) => i.key === "ssh-keys")?.value, "spotrun:ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGtest spotrun");
    } finally {
      await rm(join(fx.dir, "keys"), { recursive: true, force: true });
    }
  });

  test("standard provisioning when the caller falls back from spot", async () => {
    const r = await fx.provider.launch(launchRequest({ token: "t-od", zone: "us-central1-a", spot: false }));
    assert.ok(r.kind === "launched");
    assert.equal(r.instances[0]?.spot, false);
    assert.deepEqual((inserts()[0]!.json as Json).scheduling, {
      provisioningModel: "STANDARD",
      automaticRestart: true,
      onHostMaintenance: "MIGRATE",
    });
  });

  test("a zone stockout fails over to the next zone of the region; a quota refusal to the one after", async () => {
    server.failures.set("us-central1-a", { code: "ZONE_RESOURCE_POOL_EXHAUSTED", via: "operation" });
    server.failures.set("us-central1-b", { code: "quotaExceeded", via: "http", httpStatus: 403 });
    const r = await fx.provider.launch(launchRequest({ zone: "us-central1-a" }));
    assert.ok(r.kind === "launched", JSON.stringify(r));
    assert.equal(r.instances[0]?.zone, "us-central1-c");
    assert.deepEqual(
      inserts().map((i) => i.path.split("/")[6]),
      ["us-central1-a", "us-central1-b", "us-central1-c"],
    );
    assert.ok(
      server.apiCalls.some((c) => c.path === `/compute/v1/projects/${PROJECT}/regions/us-central1`),
      "read the region's zones",
    );
  });

  test("every zone refusing returns `refused`, typed by the error code, with each refusal listed", async () => {
    for (const z of ["us-central1-a", "us-central1-b", "us-central1-c"])
      server.failures.set(z, { code: "ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS", via: "operation" });
    const r = await fx.provider.launch(
      launchRequest({ zone: "us-central1-b", instanceTypes: ["n2-standard-4", "n2d-standard-4"] }),
    );
    assert.ok(r.kind === "refused");
    assert.equal(r.refusal, "capacity");
    assert.equal(r.code, "ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS");
    assert.equal(inserts().length, 6, "2 types × 3 zones");
    assert.match(r.message, /n2d-standard-4@us-central1-c: ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS/);
    server.failures.clear();
    server.failures.set("us-central1-a", { code: "QUOTA_EXCEEDED", via: "operation" });
    const q = await fx.provider.launch(launchRequest({ token: "t-q", zone: "us-central1-a", region: "us-central1" }));
    assert.ok(q.kind === "launched");
  });

  test("a non-capacity error is one typed ProviderError line, not a refusal", async () => {
    server.failures.set("us-central1-a", { code: "forbidden", via: "http", httpStatus: 403 });
    await assert.rejects(
      fx.provider.launch(launchRequest({ token: "t-forbidden", zone: "us-central1-a" })),
      (e: Error & { code?: string; retryable?: boolean }) => {
        assert.equal(e.name, "ProviderError");
        assert.equal(e.code, "forbidden");
        assert.equal(e.retryable, false);
        assert.doesNotMatch(e.message, /\n/);
        return true;
      },
    );
  });

  test("the same launch token twice adopts the VM instead of launching a second one", async () => {
    const a = await fx.provider.launch(launchRequest({ token: "t-idem", zone: "us-central1-a" }));
    const b = await fx.provider.launch(launchRequest({ token: "t-idem", zone: "us-central1-a" }));
    assert.ok(a.kind === "launched" && b.kind === "launched");
    assert.equal(a.instances[0]?.id, b.instances[0]?.id);
    assert.equal(inserts().length, 1);
    assert.equal(server.instances.size, 1);
  });

  test("list by label, preemption seen from the control plane, and delete", async () => {
    const r = await fx.provider.launch(launchRequest({ token: "t-life", zone: "us-central1-a", count: 2 }));
    assert.ok(r.kind === "launched");
    await fx.provider.launch(launchRequest({ token: "t-other", zone: "us-central1-b", tags: { "spotrun:job": "j-other" } }));
    const listed = await fx.provider.list({ "spotrun:job": "j-abc" });
    assert.deepEqual(listed.map((i) => i.id).sort(), r.instances.map((i) => i.id).sort());
    const agg = server.apiCalls.filter((c) => c.path.endsWith("/aggregated/instances"));
    assert.ok(agg.some((c) => c.query.get("filter") === 'labels.spotrun-job = "j-abc"'));

    const [first, second] = r.instances;
    assert.ok(first && second);
    const name = first.id.split("/")[2] as string;
    server.preempt("us-central1-a", name);
    const [seen] = await fx.provider.describe([first.id]);
    assert.equal(seen?.status, "terminated", "DELETE action: the VM is gone");
    assert.equal(seen?.interrupted?.reason, "gce-preempted");

    await fx.provider.terminate(r.instances.map((i) => i.id));
    const deletes = server.apiCalls.filter((c) => c.method === "DELETE");
    assert.equal(deletes.length, 2, "both VMs deleted (the preempted one answered 404)");
    assert.equal([...server.instances.keys()].filter((k) => k.includes("t-life")).length, 0);
  });
});
