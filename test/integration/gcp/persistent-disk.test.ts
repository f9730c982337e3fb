import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { silentLogger } from "../../../src/base/logger.js";
import { GcpDisks } from "../../../src/providers/gcp/disks.js";
import type { InstanceInfo } from "../../../src/providers/provider.js";
import { ComputeServer } from "../../servers/gcp/compute-server.js";
import { type Fixture, launchRequest, PROJECT, providerFor } from "./gcp-fixture.js";

type Json = Record<string, unknown>;
const vmOf = (i: InstanceInfo) => ({ zone: i.zone as string, name: i.id.split("/")[2] as string });

describe("persistent disks that outlive spot VMs", () => {
  let server: ComputeServer;
  let fx: Fixture;
  let disks: GcpDisks;

  before(async () => {
    server = await new ComputeServer({ project: PROJECT }).start();
    fx = await providerFor(server.http);
    disks = new GcpDisks(fx.clients, PROJECT, silentLogger);
  });
  after(async () => {
    await fx?.close();
    await server?.close();
  });

  const calls = (verb: string) => server.apiCalls.filter((c) => c.method === "POST" && c.path.endsWith(`/${verb}`));

  test("created once, attached, detached from the reclaimed VM and re-attached to its replacement, moved by snapshot, resized, deleted", async () => {
    const spec = { name: "claude-persist", sizeGb: 10, type: "pd-ssd", tags: { "spotrun:job": "j-abc" } };
    const d1 = await disks.ensure("us-central1-a", spec);
    const again = await disks.ensure("us-central1-a", spec);
    assert.equal(again.selfLink, d1.selfLink);
    const creates = server.apiCalls.filter((c) => c.method === "POST" && c.path.endsWith("/zones/us-central1-a/disks"));
    assert.equal(creates.length, 1, "created once");
    assert.deepEqual(
      { name: (creates[0]!.json as Json).name, sizeGb: (creates[0]!.json as Json).sizeGb, type: (creates[0]!.json as Json).type },
      { name: "claude-persist", sizeGb: "10", type: "zones/us-central1-a/diskTypes/pd-ssd" },
    );

    // Attempt 1: a spot VM that GCE STOPs on preemption, so it keeps holding the disk.
    const r1 = await fx.provider.launch(
      launchRequest({ token: "t-disk-a1", zone: "us-central1-a", resources: { on_interruption: "stop" } }),
    );
    assert.ok(r1.kind === "launched");
    const vm1 = vmOf(r1.instances[0] as InstanceInfo);
    await disks.attachTo(vm1, "claude-persist");
    await disks.attachTo(vm1, "claude-persist");
    assert.equal(calls("attachDisk").length, 1, "attaching twice is a no-op");
    const att = calls("attachDisk")[0];
    assert.equal(att?.path, `/compute/v1/projects/${PROJECT}/zones/us-central1-a/instances/${vm1.name}/attachDisk`);
    assert.deepEqual(att?.json, { source: d1.selfLink, deviceName: "claude-persist", mode: "READ_WRITE", autoDelete: false });

    server.preempt("us-central1-a", vm1.name);
    const [seen] = await fx.provider.describe([r1.instances[0]!.id]);
    assert.equal(seen?.status, "stopped", "STOP action: GCE keeps the VM, stopped");
    assert.equal(seen?.interrupted?.reason, "gce-preempted");
    const r2 = await fx.provider.launch(launchRequest({ token: "t-disk-a2", zone: "us-central1-a" }));
    assert.ok(r2.kind === "launched");
    const vm2 = vmOf(r2.instances[0] as InstanceInfo);
    await disks.attachTo(vm2, "claude-persist");
    const detach = calls("detachDisk");
    assert.equal(detach.length, 1);
    assert.equal(detach[0]?.path, `/compute/v1/projects/${PROJECT}/zones/us-central1-a/instances/${vm1.name}/detachDisk`);
    assert.equal(detach[0]?.query.get("deviceName"), "claude-persist");
    const att2 = calls("attachDisk")[1];
    assert.equal(att2?.path, `/compute/v1/projects/${PROJECT}/zones/us-central1-a/instances/${vm2.name}/attachDisk`);
    const order = server.apiCalls.indexOf(detach[0]!) < server.apiCalls.indexOf(att2!);
    assert.ok(order, "detached from the old VM before attaching to the new one");
    assert.deepEqual(server.disks.get("us-central1-a/claude-persist")?.users, [
      server.instances.get(`us-central1-a/${vm2.name}`)?.selfLink,
    ]);

    // Attempt 3 must go to another zone: a snapshot carries the disk over.
    await disks.detach(vm2, "claude-persist");
    const moved = await disks.moveTo("us-central1-a", "us-central1-b", spec, "claude-persist-to-b");
    assert.equal(moved.zone, "us-central1-b");
    assert.equal(moved.sizeGb, 10);
    const snap = calls("createSnapshot")[0];
    assert.equal(snap?.path, `/compute/v1/projects/${PROJECT}/zones/us-central1-a/disks/claude-persist/createSnapshot`);
    const fromSnap = server.apiCalls.find((c) => c.method === "POST" && c.path.endsWith("/zones/us-central1-b/disks"));
    assert.equal((fromSnap!.json as Json).sourceSnapshot, "global/snapshots/claude-persist-to-b");
    assert.equal(server.snapshots.size, 0, "the transfer snapshot is removed");
    const r3 = await fx.provider.launch(launchRequest({ token: "t-disk-a3", zone: "us-central1-b" }));
    assert.ok(r3.kind === "launched");
    await disks.attachTo(vmOf(r3.instances[0] as InstanceInfo), "claude-persist");
    assert.equal(server.disks.get("us-central1-b/claude-persist")?.users?.length, 1);

    const grown = await disks.resize("us-central1-b", "claude-persist", 20);
    assert.equal(grown.sizeGb, 20);
    assert.deepEqual(calls("resize")[0]?.json, { sizeGb: "20" });
    await assert.rejects(
      disks.resize("us-central1-b", "claude-persist", 15),
      (e: Error & { code?: string }) => e.code === "DISK_SHRINK",
    );

    // Cleanup: every VM, both disks.
    await fx.provider.terminate([...r1.instances, ...r2.instances, ...r3.instances].map((i) => i.id));
    await disks.delete("us-central1-a", "claude-persist");
    await disks.delete("us-central1-b", "claude-persist");
    assert.equal(server.instances.size, 0);
    assert.equal(server.disks.size, 0);
  });

  test("a task's volume follows its VM: attached at insert and mounted by the startup script, freed from the stopped VM, moved by snapshot when the zone changes", async () => {
    server.http.received.length = 0;
    const withVolume = (token: string, zone: string) => {
      const req = launchRequest({ token, zone, resources: { on_interruption: "stop" } });
      // The task schema does not carry `volumes` yet (see docs/gcp); the provider reads it from resources.
      Object.assign(req.resources, { volumes: [{ name: "workspace", size: 10, mount: "/mnt/persist" }] });
      return req;
    };
    const insertsIn = (zone: string) =>
      server.apiCalls.filter((c) => c.method === "POST" && c.path.endsWith(`/zones/${zone}/instances`));
    const volumeOf = (c: { json: unknown }) => ((c.json as Json).disks as Json[]).find((d) => d.deviceName === "workspace");

    // Attempt 1: the disk is created in the zone and attached at insert; the startup script mounts it.
    const a1 = await fx.provider.launch(withVolume("t-vol-a1", "us-central1-a"));
    assert.ok(a1.kind === "launched");
    const ins1 = insertsIn("us-central1-a")[0];
    assert.ok(ins1);
    const disk = server.disks.get("us-central1-a/workspace");
    assert.deepEqual(volumeOf(ins1), {
      source: disk?.selfLink,
      deviceName: "workspace",
      mode: "READ_WRITE",
      boot: false,
      autoDelete: false,
    });
    const md = Object.fromEntries(
      ((ins1.json as Json).metadata as { items: { key: string; value: string }[] }).items.map((i) => [i.key, i.value]),
    );
    assert.match(md["startup-script"] ?? "", /mount_volume 'workspace' '\/mnt\/persist'/);

    // GCE stops the spot VM (it keeps the disk); attempt 2 in the same zone takes the disk over.
    server.preempt("us-central1-a", vmOf(a1.instances[0] as InstanceInfo).name);
    const a2 = await fx.provider.launch(withVolume("t-vol-a2", "us-central1-a"));
    assert.ok(a2.kind === "launched");
    assert.equal(
      calls("detachDisk")
        .at(-1)
        ?.path.includes(vmOf(a1.instances[0] as InstanceInfo).name),
      true,
      "detached from the stopped VM",
    );
    assert.ok(volumeOf(insertsIn("us-central1-a")[1] as { json: unknown }), "attached to the replacement at insert");
    assert.equal(server.disks.get("us-central1-a/workspace")?.users?.length, 1);

    // Attempt 3: zone a is out of capacity; the disk moves to b by snapshot, and the old copy goes.
    server.preempt("us-central1-a", vmOf(a2.instances[0] as InstanceInfo).name);
    server.failures.set("us-central1-a", { code: "ZONE_RESOURCE_POOL_EXHAUSTED", via: "operation" });
    const a3 = await fx.provider.launch(withVolume("t-vol-a3", "us-central1-a"));
    server.failures.clear();
    assert.ok(a3.kind === "launched");
    assert.equal(a3.instances[0]?.zone, "us-central1-b");
    assert.ok(calls("createSnapshot").some((c) => c.path.endsWith("/zones/us-central1-a/disks/workspace/createSnapshot")));
    assert.equal(server.disks.has("us-central1-a/workspace"), false, "the old copy is deleted");
    assert.equal(server.snapshots.size, 0);
    const moved = server.disks.get("us-central1-b/workspace");
    assert.ok(volumeOf(insertsIn("us-central1-b")[0] as { json: unknown }));
    assert.equal(moved?.users?.length, 1);

    await fx.provider.terminate([...a1.instances, ...a2.instances, ...a3.instances].map((i) => i.id));
    await disks.delete("us-central1-b", "workspace");
    assert.equal(server.instances.size, 0);
    assert.equal(server.disks.size, 0);
  });
});
