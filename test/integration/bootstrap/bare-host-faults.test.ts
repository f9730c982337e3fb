import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { InstanceId } from "../../../src/base/ids.js";
import { Bootstrapper } from "../../../src/bootstrap/bootstrap-agent.js";
import { BootstrapError } from "../../../src/bootstrap/bootstrap-error.js";
import { ensureBareRootfs } from "../../../src/providers/local/bare-root/bare-rootfs.js";
import { createBareSshHost } from "../../../src/providers/local/ssh-hosts/create-bare-ssh-host.js";
import type { BareSshHost } from "../../../src/providers/local/ssh-hosts/ssh-host.js";
import type { InstanceInfo, Provider } from "../../../src/providers/provider.js";
import { parseTask } from "../../../src/spec/load-task.js";
import { connectSsh } from "../../../src/transport/ssh/connect.js";
import type { Transport } from "../../../src/transport/transport.js";

/**
 * Bootstrap on bare hosts made wrong on purpose, the way real images and links go wrong: each
 * case either still gets a running agent, or fails with a typed error that names the instance,
 * the step and the cause, and says whether another try could help.
 */
let dir: string;
const hosts: BareSshHost[] = [];
// The bare hosts boot from a cached Debian root that a cold machine builds first (minutes;
// scripts/test.sh starts it beside the other tests): wait for it here, not inside a timed step.
before(() => ensureBareRootfs(), { timeout: 900_000 });
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "spotrun-bare-faults-"));
});
after(async () => {
  for (const h of hosts) await h.stop();
  await rm(dir, { recursive: true, force: true });
});

let n = 0;
async function bareHost(): Promise<BareSshHost> {
  const h = await createBareSshHost({ id: `bf${process.pid % 10000}-${n++}`, index: 40 + n, home: join(dir, `host-${n}`) });
  hosts.push(h);
  return h;
}
const connect = (h: BareSshHost, knownHosts = join(dir, `known-${h.id}`)): Promise<Transport> =>
  connectSsh(
    { host: h.address, port: h.port, user: h.user, privateKeyPath: h.clientKeyPath, knownHostsPath: knownHosts, home: h.home },
    { keepaliveMs: 500 },
  );
const info = (id: string): InstanceInfo => ({
  id: InstanceId(id),
  provider: "local",
  instanceType: "local.small",
  spot: true,
  status: "running",
  pricePerHour: 0,
  onDemandPricePerHour: 0,
  launchedAt: Date.now(),
  tags: {},
});
/** The part of a provider bootstrap uses: where notices come from, the agent's environment. */
const provider = { kind: "local", noticeSource: "none", agentEnv: () => ({}) } as unknown as Provider;

async function input() {
  const work = join(dir, "work");
  await mkdir(work, { recursive: true });
  await writeFile(join(work, "run.sh"), "echo hello from the bare host\n");
  return {
    jobId: "j-faults",
    attempt: 0,
    restartCount: 0,
    node: 0,
    numNodes: 1,
    task: parseTask({ name: "faults", workdir: ".", run: "sh run.sh" }, "faults.yaml"),
    baseDir: work,
    storeUrl: "file:///tmp/spotrun-faults-store",
  };
}

const failsWith = (step: string, retryable: boolean, cause: RegExp) => (e: unknown) => {
  assert.ok(e instanceof BootstrapError, String(e));
  assert.equal(e.step, step);
  assert.equal(e.retryable, retryable, e.oneLine());
  assert.match(e.oneLine(), cause);
  assert.doesNotMatch(e.oneLine(), /\n/);
  return true;
};

test("an image with Node 16 is not used: the controller's Node is uploaded, and the events say why", async () => {
  const h = await bareHost();
  await h.runAsRoot(`printf '#!/bin/sh\\necho v16.20.2\\n' > /usr/local/bin/node && chmod 755 /usr/local/bin/node`);
  const t = await connect(h);
  try {
    const r = await new Bootstrapper().run(provider, info("i-node16"), t, await input());
    assert.equal(r.node.source, "uploaded");
    assert.equal(r.node.version, process.version);
    assert.match(r.node.detail ?? "", /the image's Node v16\.20\.2 is older than 20/);
    // The agent then ran on it: the user's command wrote its line.
    let log = "";
    for (let i = 0; i < 100 && !log.includes("hello"); i++) {
      await new Promise((res) => setTimeout(res, 100));
      log = (await t.readFile(".spotrun/run.log"))?.toString() ?? "";
    }
    assert.match(log, /hello from the bare host/);
    // A second bootstrap finds both there: nothing is sent again.
    const again = await new Bootstrapper().run(provider, info("i-node16"), t, { ...(await input()), attempt: 1 });
    assert.equal(again.node.source, "cached");
    assert.equal(again.agent.uploaded, false);
  } finally {
    await t.close();
  }
});

test("no tar or gzip: a setup failure naming the instance and the missing tools, not retried", async () => {
  const h = await bareHost();
  await h.runAsRoot("rm -f /usr/bin/tar /bin/tar /usr/bin/gzip /bin/gzip");
  const t = await connect(h);
  try {
    await assert.rejects(
      new Bootstrapper().run(provider, info("i-notar"), t, await input()),
      failsWith("probe", false, /^instance i-notar: the image has no tar, gzip .*— use an image with tar, gzip/),
    );
  } finally {
    await t.close();
  }
});

test("too little disk, or a disk that fills during the upload: a setup failure that says to raise resources.disk", async () => {
  const small = await bareHost();
  await small.runAsRoot("mount -t tmpfs -o size=100m tmpfs /root");
  const t1 = await connect(small);
  try {
    await assert.rejects(
      new Bootstrapper().run(provider, info("i-small"), t1, await input()),
      failsWith(
        "probe",
        false,
        /^instance i-small: only \d+ MB free in \/root; the agent and Node need \d+ MB — raise resources\.disk/,
      ),
    );
  } finally {
    await t1.close();
  }
  const h = await bareHost();
  // Enough room at the probe; a filler takes it while Node (100 MB unpacked) arrives.
  await h.runAsRoot("mount -t tmpfs -o size=200m tmpfs /root");
  const t = await connect(h);
  try {
    let filled: Promise<unknown> | undefined;
    const boot = new Bootstrapper({
      progress: (m) => {
        if (m.includes("uploading Node")) filled ??= h.runAsRoot("head -c 120000000 /dev/zero > /root/filler || true");
      },
    });
    await assert.rejects(
      boot.run(provider, info("i-full"), t, await input()),
      failsWith("node", false, /^instance i-full: writing to \/root failed: .*— raise resources\.disk/),
    );
    await filled;
  } finally {
    await t.close();
  }
});

test("a changed host key refuses the connection for good; an upload cut halfway is retryable and the next try completes", async () => {
  const h = await bareHost();
  const known = join(dir, "known-rotated");
  const first = await connect(h, known);
  await first.close();
  await h.rotateHostKey();
  await assert.rejects(connect(h, known), (e: unknown) => {
    const be = e as { code?: string };
    assert.equal(be.code, "HOST_KEY_CHANGED");
    return true;
  });
  const { asBootstrapError } = await import("../../../src/bootstrap/bootstrap-error.js");
  const typed = asBootstrapError("i-rekeyed", "connect", await connect(h, known).catch((e) => e));
  assert.equal(typed.retryable, false);
  assert.match(typed.oneLine(), /^instance i-rekeyed: cannot connect over SSH: host key for 10\.213\.\d+\.2 changed/);

  await rm(known);
  const t = await connect(h, known);
  try {
    let cut = false;
    const boot = new Bootstrapper({
      progress: (m) => {
        if (!cut && m.includes("uploading Node")) {
          cut = true;
          setTimeout(() => void h.cut(), 150);
        }
      },
    });
    await assert.rejects(boot.run(provider, info("i-cut"), t, await input()), failsWith("node", true, /^instance i-cut: /));
    await h.restore();
    const r = await boot.run(provider, info("i-cut"), t, await input());
    assert.equal(r.node.source, "uploaded", "the half-sent binary was never kept");
    assert.match((await readFile(join(h.rootDir, "root", ".spotrun", "bin", "spotrun"), "utf8")) ?? "", /exec '.*\/bin\/node'/);
  } finally {
    await t.close();
  }
});
