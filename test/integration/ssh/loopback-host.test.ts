import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { SpotrunError } from "../../../src/base/errors.js";
import { createLoopbackSshHost } from "../../../src/providers/local/ssh-hosts/create-loopback-ssh-host.js";
import { isAlive } from "../../../src/providers/local/ssh-hosts/host-registry.js";
import type { LoopbackSshHost } from "../../../src/providers/local/ssh-hosts/ssh-host.js";
import { processTree } from "../../../src/providers/local/ssh-hosts/sshd-process.js";
import { connectSsh } from "../../../src/transport/ssh/connect.js";
import { SSH_DISCONNECTED } from "../../../src/transport/ssh/remote-exec.js";
import { ScaledClock } from "../../support/clocks.js";

describe("loopback SSH host (machines without network namespaces)", () => {
  let dir: string;
  let host: LoopbackSshHost;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "spotrun-loopback-"));
    host = await createLoopbackSshHost({ id: `lb-${process.pid}`, home: join(dir, "home") });
  });
  after(async () => {
    await host?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("serves a real sshd on 127.0.0.1 with its own host key; a cut freezes it and a restore brings it back", async () => {
    assert.equal(host.address, "127.0.0.1");
    assert.notEqual(host.port, 22);
    assert.ok(host.clientKeyPath);
    const knownHostsPath = join(dir, "known_hosts");
    const t = await connectSsh(
      {
        host: host.address,
        port: host.port,
        user: host.user,
        privateKeyPath: host.clientKeyPath,
        knownHostsPath,
        home: host.home,
      },
      { keepaliveMs: 250, clock: new ScaledClock(40) },
    );
    try {
      assert.equal((await t.exec("echo hi")).stdout, "hi\n");
      const pinned = await readFile(knownHostsPath, "utf8");
      assert.ok(pinned.startsWith(`[127.0.0.1]:${host.port} ssh-ed25519 `), pinned);
      const found = execFileSync("ssh-keygen", ["-l", "-F", `[127.0.0.1]:${host.port}`, "-f", knownHostsPath], {
        encoding: "utf8",
      });
      assert.ok(found.includes(host.hostKeyFingerprint));

      await host.cut();
      await assert.rejects(t.exec("sleep 3"), (e: unknown) => e instanceof SpotrunError && e.code === SSH_DISCONNECTED);
      await host.restore();
      assert.equal((await t.exec("echo again")).stdout, "again\n");
    } finally {
      await t.close();
    }
  });

  it("stop() leaves no sshd behind", async () => {
    const { readRecords, defaultStateRoot } = await import("../../../src/providers/local/ssh-hosts/host-registry.js");
    const rec = readRecords(defaultStateRoot()).find((r) => r.name === `loopback-lb-${process.pid}`);
    assert.ok(rec?.sshdPid);
    const tree = await processTree(rec.sshdPid);
    await host.stop();
    for (const pid of tree) {
      const state = (await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "")).split(") ")[1]?.[0];
      assert.ok(!isAlive(pid) || state === "Z", `pid ${pid} survived`);
    }
  });
});
