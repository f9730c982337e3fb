import assert from "node:assert/strict";
import { test } from "node:test";
import { SpotrunError } from "../../../src/base/errors.js";
import { classify, diskFull, statusOf } from "../../../src/providers/vast/instance-state.js";
import { sshEndpoint, sshUrl } from "../../../src/providers/vast/ssh-target.js";
import { parseAccelerators, resourcesToSearch } from "../../../src/providers/vast/vast-provider.js";
import type { VastInstance } from "../../../src/providers/vast/wire.js";
import { resourcesSchema } from "../../../src/spec/task-schema.js";

const inst = (p: Partial<VastInstance>): VastInstance => ({ id: 1, actual_status: null, intended_status: "running", ...p });

test("actual/intended status map to InstanceStatus, with interruption read from the control plane", () => {
  const rows: [Partial<VastInstance>, boolean, string, string][] = [
    [{ actual_status: null }, true, "starting", "pending"],
    [{ actual_status: "loading" }, true, "starting", "pending"],
    [{ actual_status: "created" }, false, "starting", "pending"],
    [{ actual_status: "running" }, true, "running", "running"],
    [{ actual_status: "exited" }, true, "interrupted", "stopped"],
    [{ actual_status: "exited" }, false, "interrupted", "stopped"],
    [{ actual_status: "offline" }, true, "interrupted", "stopped"],
    [{ actual_status: "running", intended_status: "stopped" }, false, "stopping", "stopping"],
    [{ actual_status: "exited", intended_status: "stopped" }, true, "stopped", "stopped"],
    [{ actual_status: "destroyed" }, false, "gone", "terminated"],
  ];
  for (const [p, spot, kind, status] of rows) {
    const c = classify(inst(p), spot);
    assert.equal(c.kind, kind, JSON.stringify(p));
    assert.equal(statusOf(c), status, JSON.stringify(p));
  }
  assert.deepEqual(classify(inst({ actual_status: "exited" }), true), {
    kind: "interrupted",
    reason: "outbid",
    actual: "exited",
  });
  assert.deepEqual(classify(inst({ actual_status: "exited" }), false), {
    kind: "interrupted",
    reason: "host_stopped",
    actual: "exited",
  });
  assert.deepEqual(classify(inst({ actual_status: "offline" }), true), {
    kind: "interrupted",
    reason: "host_offline",
    actual: "offline",
  });
  assert.equal(classify(undefined, false).kind, "gone");
});

test("a full disk is read from the daemon's ENOSPC text in status_msg, and only from it", () => {
  const msg = "Error response from daemon: write /var/lib/docker/tmp/x: no space left on device";
  assert.equal(diskFull(msg), true);
  assert.equal(diskFull("Disk quota exceeded"), true);
  assert.equal(diskFull("Pulling image pytorch/pytorch"), false);
  assert.equal(diskFull(null), false);
  assert.deepEqual(classify(inst({ actual_status: "exited", status_msg: msg }), true), { kind: "disk_full", message: msg });
  // A running container whose last message mentioned ENOSPC is still running.
  assert.equal(classify(inst({ actual_status: "running", status_msg: msg }), true).kind, "running");
});

test("ssh-url rules: direct port mapping first, else the proxy (+1 under jupyter)", () => {
  const direct = inst({
    public_ipaddr: "203.0.113.7 ",
    ports: { "22/tcp": [{ HostIp: "0.0.0.0", HostPort: "41022" }] },
    ssh_host: "ssh4.vast.ai",
    ssh_port: 12345,
  });
  assert.deepEqual(sshEndpoint(direct), { host: "203.0.113.7", port: 41022 });
  assert.equal(sshUrl({ host: "203.0.113.7", port: 41022 }), "ssh://root@203.0.113.7:41022");
  assert.deepEqual(sshEndpoint(inst({ ssh_host: "ssh4.vast.ai", ssh_port: 12345, image_runtype: "ssh_proxy" })), {
    host: "ssh4.vast.ai",
    port: 12345,
  });
  assert.deepEqual(sshEndpoint(inst({ ssh_host: "ssh4.vast.ai", ssh_port: 12345, image_runtype: "jupyter_proxy ssh_proxy" })), {
    host: "ssh4.vast.ai",
    port: 12346,
  });
  assert.equal(sshEndpoint(inst({})), undefined);
});

test("a task's resources become a Vast search", () => {
  assert.deepEqual(parseAccelerators("RTX_4090:2"), { gpuName: "RTX 4090", count: 2 });
  assert.deepEqual(parseAccelerators("A100_SXM4"), { gpuName: "A100 SXM4", count: 1 });
  assert.throws(() => parseAccelerators("RTX_4090:0"), SpotrunError);
  assert.throws(() => parseAccelerators("RTX:4090:1"), SpotrunError);
  const r = resourcesSchema.parse({
    provider: "vast",
    accelerators: "RTX_4090:1",
    min_reliability: 0.95,
    max_price: 0.3,
    disk: 50,
    spot: true,
  });
  const { body, type } = resourcesToSearch(r);
  assert.equal(type, "bid");
  assert.deepEqual(body.gpu_name, { eq: "RTX 4090" });
  assert.deepEqual(body.num_gpus, { eq: 1 });
  assert.deepEqual(body.reliability, { gte: 0.95 });
  assert.deepEqual(body.min_bid, { lte: 0.3 });
  assert.deepEqual(body.disk_space, { gte: 50 });
  assert.equal(body.allocated_storage, 50);
  assert.deepEqual(body.order, [["min_bid", "asc"]]);
  const od = resourcesToSearch(resourcesSchema.parse({ provider: "vast", max_price: 0.5, spot: false })).body;
  assert.deepEqual(od.dph_total, { lte: 0.5 });
  assert.equal(od.min_bid, undefined);
  assert.deepEqual(od.order, [["dph_total", "asc"]]);
});
