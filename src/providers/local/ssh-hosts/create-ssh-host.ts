import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { isAlive } from "../../../base/process.js";
import { defaultStateRoot, destroySync, type HostRecord, trackHost, untrackHost, writeRecord } from "./host-registry.js";
import { runTool } from "./run-tool.js";
import type { CreateSshHostOptions, NetnsSshHost } from "./ssh-host.js";
import { generateClientKey, generateHostKey, startSshd, writeSshdConfig } from "./sshd-process.js";

/** Subnets stay inside 10.213.0.0/16 and exist only on links into namespaces we create. */
export const subnetOf = (index: number) => ({ gateway: `10.213.${index}.1`, address: `10.213.${index}.2`, prefix: 24 });
const vethOf = (index: number) => ({ host: `spr${index}h`, ns: `spr${index}n` });
const MAX_INDEX = 254;

/**
 * Make a separate network host on this machine: namespace `spotrun-<id>`, a veth pair into it
 * with 10.213.<index>.1 (here) and .2 (there), and a real sshd listening on .2:22 inside.
 */
export async function createSshHost(opts: CreateSshHostOptions): Promise<NetnsSshHost> {
  const stateRoot = defaultStateRoot();
  const { ns, rec, net, veth } = await createNamespace(stateRoot, opts.id, opts.index ?? 1);
  try {
    const dir = join(stateRoot, ns);
    await mkdir(opts.home, { recursive: true });
    const client = opts.authorizedKeys ? undefined : await generateClientKey(dir);
    const files = await writeSshdConfig({
      dir,
      listen: net.address,
      port: 22,
      authorizedKeys: opts.authorizedKeys ?? [client!.publicLine],
      withoutRsync: opts.withoutRsync ?? false,
      home: opts.home,
    });
    let hostKey = await generateHostKey(dir);
    const prefix = ["ip", "netns", "exec", ns];
    rec.sshdPid = await startSshd(files, prefix, net.address, 22);
    writeRecord(stateRoot, rec);

    const host: NetnsSshHost = {
      kind: "netns",
      id: opts.id,
      ns,
      address: net.address,
      gateway: net.gateway,
      port: 22,
      user: "root",
      home: opts.home,
      get hostKeyFingerprint() {
        return hostKey.fingerprint;
      },
      clientKeyPath: client?.path,
      async stop() {
        untrackHost(ns);
        destroySync(stateRoot, rec);
      },
      ...linkControls(ns, veth.ns),
      async rotateHostKey() {
        await stopListener(rec.sshdPid);
        hostKey = await generateHostKey(dir);
        rec.sshdPid = await startSshd(files, prefix, net.address, 22);
        writeRecord(stateRoot, rec);
        return hostKey.fingerprint;
      },
    };
    return host;
  } catch (e) {
    untrackHost(ns);
    destroySync(stateRoot, rec);
    throw e;
  }
}

/**
 * Namespace `spotrun-<id>` with a veth pair into it: 10.213.<index>.1 here, .2 there, tracked
 * so that exit or the sweeper removes it.
 */
export async function createNamespace(
  stateRoot: string,
  id: string,
  startIndex: number,
): Promise<{ ns: string; rec: HostRecord; net: ReturnType<typeof subnetOf>; veth: ReturnType<typeof vethOf> }> {
  const ns = `spotrun-${id}`;
  const rec: HostRecord = { name: ns, ownerPid: process.pid, ns };
  await runTool("ip", ["netns", "add", ns]).catch((e) => {
    throw new Error(`cannot create network namespace ${ns} (is another host using id ${id}?)`, { cause: e });
  });
  trackHost(stateRoot, rec);
  try {
    const index = await claimVeth(startIndex);
    const veth = vethOf(index);
    rec.veth = veth.host;
    writeRecord(stateRoot, rec);
    const net = subnetOf(index);
    await runTool("ip", ["link", "set", veth.ns, "netns", ns]);
    await runTool("ip", ["addr", "add", `${net.gateway}/${net.prefix}`, "dev", veth.host]);
    await runTool("ip", ["link", "set", veth.host, "up"]);
    await runTool("ip", ["-n", ns, "addr", "add", `${net.address}/${net.prefix}`, "dev", veth.ns]);
    await runTool("ip", ["-n", ns, "link", "set", veth.ns, "up"]);
    await runTool("ip", ["-n", ns, "link", "set", "lo", "up"]);
    return { ns, rec, net, veth };
  } catch (e) {
    untrackHost(ns);
    destroySync(stateRoot, rec);
    throw e;
  }
}

/**
 * Downing the far end keeps our route, so packets go into a dead link instead of being refused
 * or leaking to the default route: clients see silence, exactly as with a node that vanished.
 */
export const linkControls = (ns: string, nsLink: string) => ({
  cut: () => runTool("ip", ["-n", ns, "link", "set", nsLink, "down"]).then(() => undefined),
  restore: () => runTool("ip", ["-n", ns, "link", "set", nsLink, "up"]).then(() => undefined),
});

/**
 * The veth name is derived from the index, and the kernel refuses a name twice, so creating
 * the pair is the lock: concurrent test files (or engineers) never get the same subnet.
 */
async function claimVeth(start: number): Promise<number> {
  for (let i = start; i <= MAX_INDEX; i++) {
    const v = vethOf(i);
    // The name may be taken when we ask and free when we look (its owner's namespace went in
    // between): ask that index again. Only a name that is never there to see is a broken iproute2.
    for (let tries = 0; ; tries++) {
      const made = await runTool("ip", ["link", "add", v.host, "type", "veth", "peer", "name", v.ns], { allowFail: true });
      if (made.code === 0) return i;
      const taken = await runTool("ip", ["link", "show", v.host], { allowFail: true });
      if (taken.code === 0) break;
      if (tries >= 4)
        throw new Error(
          `ip link add ${v.host} failed and the link does not exist (is iproute2 usable here?): ${made.stderr.trim()}`,
        );
    }
  }
  throw new Error(`no free subnet index between ${start} and ${MAX_INDEX} in 10.213.0.0/16`);
}

/** Stop only the listening sshd (sessions it forked keep running), and wait until its port is free. */
export async function stopListener(pid: number | undefined): Promise<void> {
  if (!pid) return;
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    return;
  }
  for (let i = 0; i < 100; i++) {
    if (!isAlive(pid)) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  process.kill(pid, "SIGKILL");
}
