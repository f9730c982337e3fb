import assert from "node:assert/strict";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { AWS_TAG } from "../../../src/providers/aws/aws-provider.js";
import { localKeyPair } from "../../../src/providers/aws/key-pair.js";
import { createLoopbackSshHost } from "../../../src/providers/local/ssh-hosts/create-loopback-ssh-host.js";
import type { LoopbackSshHost } from "../../../src/providers/local/ssh-hosts/ssh-host.js";
import type { InstanceInfo } from "../../../src/providers/provider.js";
import { resourcesSchema } from "../../../src/spec/task-schema.js";
import { hostPinPath } from "../../../src/transport/ssh/host-pins.js";
import type { Transport } from "../../../src/transport/transport.js";
import { type Ec2Fixture, startEc2Fixture } from "./ec2-fixture.js";

/**
 * The way in: an instance launched with the key spotrun generated is reached over SSH with that
 * key, as the user its tag names, pinning the host key under <home>. The "instance" is a real
 * sshd on loopback that authorizes the generated public key (EC2 would, via the imported key pair).
 */
let fx: Ec2Fixture;
let host: LoopbackSshHost;
let transport: Transport | undefined;
let first: InstanceInfo;

before(async () => {
  fx = await startEc2Fixture();
  const key = await localKeyPair(fx.home);
  host = await createLoopbackSshHost({
    id: `aws-transport-${process.pid}`,
    home: join(fx.home, "remote-home"),
    authorizedKeys: [key.publicKey],
  });
});
after(async () => {
  await transport?.close();
  await host?.stop();
  await fx.close();
});

test("transport(): SSH with the generated key, the tagged user, host key pinned under <home>/ssh", async () => {
  const res = await fx.provider.launch({
    token: "tok-ssh",
    instanceTypes: ["m7i.large"],
    spot: false,
    count: 1,
    tags: { "spotrun:job": "j-ssh", [AWS_TAG.sshUser]: host.user },
    resources: resourcesSchema.parse({ provider: "aws" }),
  });
  assert.equal(res.kind, "launched");
  if (res.kind !== "launched") return;
  const inst = res.instances[0];
  assert.ok(inst);
  const key = await localKeyPair(fx.home);
  assert.equal(inst.tags[AWS_TAG.keyName], key.keyName);
  assert.equal(fx.server.received("RunInstances")[0]?.KeyName, key.keyName);
  // EC2 answers on port 22 of the instance's address; this sshd listens on a loopback port.
  transport = await fx.provider.transport({ ...inst, address: `127.0.0.1:${host.port}` });
  const out = await transport.exec("echo hello-from-$(whoami)");
  assert.equal(out.exitCode, 0);
  assert.equal(out.stdout.trim(), `hello-from-${host.user}`);
  const pinned = await readFile(hostPinPath(join(fx.home, "ssh"), inst.id), "utf8");
  assert.match(pinned, /127\.0\.0\.1/);
  first = { ...inst, address: `127.0.0.1:${host.port}` };
});

test("a recycled address: the next instance there has a new host key and is reached; the old pin goes at terminate", async () => {
  assert.ok(first, "the first test launched an instance");
  const res = await fx.provider.launch({
    token: "tok-ssh-2",
    instanceTypes: ["m7i.large"],
    spot: false,
    count: 1,
    tags: { "spotrun:job": "j-ssh-2", [AWS_TAG.sshUser]: host.user },
    resources: resourcesSchema.parse({ provider: "aws" }),
  });
  assert.equal(res.kind, "launched");
  if (res.kind !== "launched" || !res.instances[0]) return;
  // EC2 gave the first instance's public IP to this one, a new machine with its own host key.
  await host.rotateHostKey();
  const second = { ...res.instances[0], address: first.address };
  const t = await fx.provider.transport(second);
  try {
    assert.equal((await t.exec("echo recycled")).stdout, "recycled\n");
  } finally {
    await t.close();
  }
  const dir = join(fx.home, "ssh");
  await fx.provider.terminate([first.id]);
  await assert.rejects(stat(hostPinPath(dir, first.id)), { code: "ENOENT" });
  assert.ok((await stat(hostPinPath(dir, second.id))).isFile(), "the live instance keeps its pin");
  await fx.provider.terminate([second.id]);
  await assert.rejects(stat(hostPinPath(dir, second.id)), { code: "ENOENT" });
});
