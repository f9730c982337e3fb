import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLoopbackSshHost } from "../../src/providers/local/ssh-hosts/create-loopback-ssh-host.js";
import { createSshHost } from "../../src/providers/local/ssh-hosts/create-ssh-host.js";
import type { SshHost } from "../../src/providers/local/ssh-hosts/ssh-host.js";
import { sweepSshHosts } from "../../src/providers/local/ssh-hosts/sweep-ssh-hosts.js";
import type { SshTarget } from "../../src/transport/ssh/ssh-target.js";

/**
 * N real OpenSSH hosts for a test, one client key authorized on all of them and an empty
 * known_hosts; each host is its own network namespace where the machine allows it (root and
 * iproute2), a loopback sshd otherwise. `stop()` removes everything; the hosts' exit hook does
 * it too if a test dies first.
 */
export interface SshCluster {
  hosts: SshHost[];
  dir: string;
  keyPath: string;
  knownHostsPath: string;
  target(i: number): SshTarget;
  stop(): Promise<void>;
}

export function netnsAvailable(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync("ip", ["netns", "list"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

export async function startSshCluster(opts: {
  n: number;
  name: string;
  /** Hosts (by position) whose sessions see no rsync. */
  withoutRsync?: number[];
  /** First subnet index to try; each file picks its own range so parallel files rarely collide. */
  firstIndex?: number;
}): Promise<SshCluster> {
  await sweepSshHosts();
  const dir = await mkdtemp(join(tmpdir(), `spotrun-${opts.name}-`));
  const keyPath = join(dir, "id_ed25519");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "spotrun-test", "-f", keyPath]);
  const pub = (await readFile(`${keyPath}.pub`, "utf8")).trim();
  const knownHostsPath = join(dir, "known_hosts");
  const useNetns = netnsAvailable();
  const hosts: SshHost[] = [];
  const stop = async () => {
    for (const h of hosts) await h.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < opts.n; i++) {
      const common = {
        id: `${opts.name}-${process.pid}-${i + 1}`,
        home: join(dir, `home-${i + 1}`),
        authorizedKeys: [pub],
        withoutRsync: opts.withoutRsync?.includes(i) ?? false,
      };
      hosts.push(
        useNetns ? await createSshHost({ ...common, index: (opts.firstIndex ?? 1) + i }) : await createLoopbackSshHost(common),
      );
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    hosts,
    dir,
    keyPath,
    knownHostsPath,
    target: (i) => {
      const h = hosts[i]!;
      return {
        host: h.address,
        port: h.port,
        user: h.user,
        privateKeyPath: keyPath,
        knownHostsPath,
        label: `node-${i + 1}`,
        home: h.home,
      };
    },
    stop,
  };
}
