import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { SpotrunError } from "../../../src/base/errors.js";
import { connectSsh } from "../../../src/transport/ssh/connect.js";
import { dropHostPins, hostPinPath } from "../../../src/transport/ssh/host-pins.js";
import { HOST_KEY_CHANGED } from "../../../src/transport/ssh/pin-host-key.js";
import { SSH_DISCONNECTED } from "../../../src/transport/ssh/remote-exec.js";
import { rsyncSshCommand } from "../../../src/transport/ssh/rsync-command.js";
import { RECONNECT_BACKOFF_MS, SSH_AUTH_FAILED, SSH_UNREACHABLE } from "../../../src/transport/ssh/ssh-session.js";
import type { Transport } from "../../../src/transport/transport.js";
import { ScaledClock } from "../../support/clocks.js";
import { type SshCluster, startSshCluster } from "../../support/ssh-cluster.js";

const KEEPALIVE_MS = 250;

describe("SSH connections that drop, and hosts whose key changes", () => {
  let cluster: SshCluster;
  const open: Transport[] = [];

  before(async () => {
    cluster = await startSshCluster({ n: 2, name: "recon", firstIndex: 41 });
  });
  after(async () => {
    await Promise.all(open.map((t) => t.close()));
    await cluster?.stop();
  });

  it("a cut link fails the command in flight, and the next command reconnects after the backoff once the link is back", async () => {
    // Production delays (2, 4, 8, 16 s) run 40x faster here; the clock records what was asked.
    const clock = new ScaledClock(40);
    const t = await connectSsh(cluster.target(0), { clock, keepaliveMs: KEEPALIVE_MS });
    open.push(t);
    assert.equal((await t.exec("echo up")).stdout, "up\n");

    const inFlight = t.exec("sleep 20");
    await new Promise((r) => setTimeout(r, 200));
    await cluster.hosts[0]!.cut();
    await assert.rejects(inFlight, (e: unknown) => e instanceof SpotrunError && e.code === SSH_DISCONNECTED);

    // Restore while the reconnect loop is in its second wait.
    const next = t.exec("echo back");
    const restoring = (async () => {
      while (clock.sleeps.length < 2) await new Promise((r) => setTimeout(r, 20));
      await cluster.hosts[0]!.restore();
    })();
    const r = await next;
    await restoring;
    assert.equal(r.stdout, "back\n");
    assert.deepEqual(clock.sleeps.slice(0, 2), [2000, 4000]);
    assert.ok(clock.sleeps.length <= 3);
  });

  it("gives up after waiting 2, 4, 8 and 16 s and says why", async () => {
    const clock = new ScaledClock(40);
    const t = await connectSsh(cluster.target(1), { clock, keepaliveMs: KEEPALIVE_MS });
    open.push(t);
    await cluster.hosts[1]!.cut();
    try {
      // The open connection is declared dead after three missed keepalives...
      await assert.rejects(t.exec("sleep 5"), (e: unknown) => e instanceof SpotrunError && e.code === SSH_DISCONNECTED);
      // ...and the next command finds the host gone for good.
      await assert.rejects(t.exec("true"), (e: unknown) => {
        assert.ok(e instanceof SpotrunError);
        assert.equal(e.code, SSH_UNREACHABLE);
        assert.match(e.message, /node-2 after 5 attempts/);
        assert.ok(e.cause, "the cause is kept");
        return true;
      });
      assert.deepEqual(clock.sleeps, [...RECONNECT_BACKOFF_MS]);
    } finally {
      await cluster.hosts[1]!.restore();
    }
  });

  it("a key the host does not authorize fails at once with what to do, without retries", async () => {
    const stranger = join(cluster.dir, "stranger_ed25519");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", stranger]);
    const clock = new ScaledClock(40);
    await assert.rejects(
      connectSsh({ ...cluster.target(0), privateKeyPath: stranger }, { clock, keepaliveMs: KEEPALIVE_MS }),
      (e: unknown) => {
        assert.ok(e instanceof SpotrunError);
        assert.equal(e.code, SSH_AUTH_FAILED);
        assert.match(e.oneLine(), /node-1 refused our key for root: .* — add .*stranger_ed25519\.pub to root's authorized_keys/);
        return true;
      },
    );
    assert.deepEqual(clock.sleeps, []);
  });

  it("refuses a host whose key changed, naming the host, both fingerprints and the fix; rsync's ssh refuses too", async () => {
    const h = cluster.hosts[0]!;
    const old = h.hostKeyFingerprint;
    const fresh = await h.rotateHostKey();
    assert.notEqual(fresh, old);
    const name = h.port === 22 ? h.address : `[${h.address}]:${h.port}`;
    const before = await readFile(cluster.knownHostsPath, "utf8");
    const clock = new ScaledClock(40);
    await assert.rejects(connectSsh(cluster.target(0), { clock, keepaliveMs: KEEPALIVE_MS }), (e: unknown) => {
      assert.ok(e instanceof SpotrunError);
      assert.equal(e.code, HOST_KEY_CHANGED);
      const line = e.oneLine();
      assert.ok(line.includes(name), line);
      assert.ok(line.includes(old), line);
      assert.ok(line.includes(fresh), line);
      assert.match(line, / — .*ssh-keygen -R/);
      return true;
    });
    assert.deepEqual(clock.sleeps, [], "waiting cannot fix a changed key, so there are no retries");
    assert.equal(await readFile(cluster.knownHostsPath, "utf8"), before, "the pinned key must not be replaced");

    // The system ssh that rsync runs reads the same pins and must refuse the new key as well.
    const words = rsyncSshCommand(cluster.target(0), KEEPALIVE_MS).replace(/'/g, "").split(" ");
    const code = await new Promise<number>((resolve) => {
      execFile(words[0]!, [...words.slice(1), `root@${h.address}`, "true"], (err) => resolve(err ? Number(err.code) : 0));
    });
    assert.equal(code, 255);
  });
});

describe("host keys are pinned per instance, not per address", () => {
  let cluster: SshCluster;
  before(async () => {
    cluster = await startSshCluster({ n: 1, name: "repin", firstIndex: 44 });
  });
  after(async () => {
    await cluster?.stop();
  });

  it("a new instance at a recycled address connects; the old instance's pin still refuses the new key, and is dropped", async () => {
    const dir = join(cluster.knownHostsPath, "..", "pins");
    const as = (instance: string) => ({ ...cluster.target(0), knownHostsPath: hostPinPath(dir, instance) });
    const clock = new ScaledClock(40);
    const a = await connectSsh(as("i-0aaa"), { clock, keepaliveMs: KEEPALIVE_MS });
    assert.equal((await a.exec("echo a")).stdout, "a\n");
    await a.close();
    await cluster.hosts[0]!.rotateHostKey();
    const b = await connectSsh(as("vm/europe-north1-b/x"), { clock, keepaliveMs: KEEPALIVE_MS });
    assert.equal((await b.exec("echo b")).stdout, "b\n");
    await b.close();
    await assert.rejects(connectSsh(as("i-0aaa"), { clock, keepaliveMs: KEEPALIVE_MS }), { code: HOST_KEY_CHANGED });
    await dropHostPins(dir, ["i-0aaa"]);
    await assert.rejects(readFile(hostPinPath(dir, "i-0aaa")), { code: "ENOENT" });
    assert.match(await readFile(hostPinPath(dir, "vm/europe-north1-b/x"), "utf8"), /ssh-/);
  });
});
