import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { InstanceInfo, LaunchRequest } from "../../../src/providers/provider.js";
import { deleteProviderVolume, resizeProviderVolume } from "../../../src/sessions/provider-volume.js";
import { GCP_VOLUME_MOUNT, supervisorSpec } from "../../../src/sessions/session-lifecycle.js";
import { parseSessionText } from "../../../src/sessions/session-schema.js";
import { sessionTask } from "../../../src/sessions/session-task.js";
import { type Fixture, launchRequest, PROJECT, providerFor } from "../../integration/gcp/gcp-fixture.js";
import { ComputeServer } from "../../servers/gcp/compute-server.js";

type Json = Record<string, unknown>;
const vmName = (i: InstanceInfo) => i.id.split("/")[2] as string;

describe("a session's volume through the GCP provider and the Compute server", () => {
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

  test("the disk is attached to each VM the session runs on, mounted where the supervisor looks, grown and deleted", async () => {
    const file = parseSessionText(
      "resources: {provider: gcp, on_interruption: stop}\npersist: [~/.claude, /workspaces]\nagents: [{name: a, command: claude, resume_command: claude --continue}]\nvolume: {size: 10GB}\n",
      "s.yaml",
    );
    const task = sessionTask("work", file, supervisorSpec("/h", "work", file), "spotrun");
    const request = (token: string): LaunchRequest => ({
      ...launchRequest({ token, zone: "us-central1-a" }),
      resources: task.resources,
    });
    const inserts = () => server.apiCalls.filter((c) => c.method === "POST" && c.path.endsWith("/zones/us-central1-a/instances"));
    const volumeOf = (c: { json: unknown }) =>
      ((c.json as Json).disks as Json[]).find((d) => d.deviceName === "spotrun-s-work") as Json | undefined;

    const a1 = await fx.provider.launch(request("t-sess-a1"));
    assert.ok(a1.kind === "launched");
    const disk = server.disks.get("us-central1-a/spotrun-s-work");
    assert.ok(disk, "the session's disk was created in the VM's zone");
    assert.equal(String(disk.sizeGb), "10");
    assert.equal(volumeOf(inserts()[0] as { json: unknown })?.source, disk.selfLink);
    const first = inserts()[0];
    assert.ok(first);
    const md = Object.fromEntries(
      ((first.json as Json).metadata as { items: { key: string; value: string }[] }).items.map((i) => [i.key, i.value]),
    );
    assert.ok((md["startup-script"] ?? "").includes(`mount_volume 'spotrun-s-work' '${GCP_VOLUME_MOUNT}'`));

    // Preempted (GCE keeps the stopped VM and its disk): the replacement gets the same disk.
    server.preempt("us-central1-a", vmName(a1.instances[0] as InstanceInfo));
    const a2 = await fx.provider.launch(request("t-sess-a2"));
    assert.ok(a2.kind === "launched");
    assert.ok(
      server.apiCalls.some((c) => c.path.endsWith("/detachDisk") && c.path.includes(vmName(a1.instances[0] as InstanceInfo))),
    );
    assert.equal(volumeOf(inserts()[1] as { json: unknown })?.source, disk.selfLink, "re-attached to the replacement");

    const grown = await resizeProviderVolume(fx.provider, "spotrun-s-work", 20 * 1024 ** 3);
    assert.deepEqual(grown, { kind: "resized", zone: "us-central1-a", size_gb: 20 });
    const resize = server.apiCalls.filter((c) => c.method === "POST" && c.path.endsWith("/disks/spotrun-s-work/resize"));
    assert.deepEqual(
      resize.map((c) => c.json),
      [{ sizeGb: "20" }],
    );
    assert.deepEqual(await resizeProviderVolume(fx.provider, "spotrun-s-none", 1024 ** 3), { kind: "not_created", size_gb: 1 });

    await fx.provider.terminate([...a1.instances, ...a2.instances].map((i) => i.id));
    assert.equal(await deleteProviderVolume(fx.provider, "spotrun-s-work"), true);
    assert.equal(server.disks.has("us-central1-a/spotrun-s-work"), false);
    assert.equal(await deleteProviderVolume(fx.provider, "spotrun-s-work"), false);
  });
});
