import { cp, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { systemClock } from "../../src/base/clock.js";
import type { Logger } from "../../src/base/logger.js";
import { silentLogger } from "../../src/base/logger.js";
import { Controller } from "../../src/core/controller.js";
import type { BareSshHost, LoopbackSshHost } from "../../src/providers/local/ssh-hosts/ssh-host.js";
import type { Provider } from "../../src/providers/provider.js";
import { ProviderCache } from "../../src/providers/registry.js";
import type { ProviderKind } from "../../src/spec/task-schema.js";
import type { StateStore } from "../../src/state/state-store.js";
import { connectSsh } from "../../src/transport/ssh/connect.js";
import type { Transport } from "../../src/transport/transport.js";

/**
 * What the managed-job tests of every cloud provider share: the real controller driving a real
 * provider against an in-repo API server, whose "machines" are loopback sshds on this host.
 */

/** The controller's provider cache, answering with the one provider under test. */
export class FixedProviders extends ProviderCache {
  constructor(private readonly p: Provider) {
    super({ home: "", logger: silentLogger });
  }
  override get(_kind: ProviderKind): Promise<Provider> {
    return Promise.resolve(this.p);
  }
}

/** The real controller on a test's store, polling fast so a job's life fits in a test. */
export const fastController = (store: StateStore, provider: Provider, home: string, logger: Logger): Controller =>
  new Controller({
    store,
    providers: new FixedProviders(provider),
    home,
    clock: systemClock,
    logger,
    tickMs: 50,
    steadyPollMs: 200,
  });

/**
 * SSH to a loopback machine. The sshds here all log in as this machine's root, whose $HOME is
 * shared; on a cloud each machine has its own. So every command runs with the machine's home as $HOME.
 */
export async function loopbackTransport(host: LoopbackSshHost, knownHostsPath: string): Promise<Transport> {
  const t = await connectSsh({
    host: host.address,
    port: host.port,
    user: host.user,
    privateKeyPath: host.clientKeyPath,
    knownHostsPath,
    home: host.home,
  });
  return {
    label: t.label,
    home: t.home,
    exec: (command, opts) => t.exec(command, { ...opts, env: { HOME: host.home, ...opts?.env } }),
    readFile: (path, offset) => t.readFile(path, offset),
    writeFile: (path, data) => t.writeFile(path, data),
    upload: (from, to, opts) => t.upload(from, to, opts),
    download: (from, to) => t.download(from, to),
    stream: (command, opts) => t.stream(command, { ...opts, env: { HOME: host.home, ...opts.env } }),
    close: () => t.close(),
    stats: () => t.stats(),
  };
}

/**
 * A job under `root`: its home, and a workdir holding the quickstart trainer and a task file that
 * runs it (`name`, then the given lines: resources, checkpoint store, envs, recovery…).
 */
export async function trainerJob(
  root: string,
  name: string,
  lines: string,
  dirs: { home?: string; work?: string } = {},
): Promise<{ home: string; work: string; taskPath: string }> {
  const home = join(root, dirs.home ?? "home");
  const work = join(root, dirs.work ?? "work");
  await mkdir(work, { recursive: true });
  await cp(join(process.cwd(), "examples", "quickstart", "trainer.py"), join(work, "trainer.py"));
  const taskPath = join(work, "task.yaml");
  await writeFile(taskPath, `name: ${name}\nworkdir: .\nrun: python3 trainer.py\n${lines}`);
  return { home, work, taskPath };
}

/** The agent's own event log on a host (`~/.spotrun/events.jsonl`). */
export function agentEvents(text: string): { kind: string; source?: string; action?: string }[] {
  return text
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { kind: string; source?: string; action?: string });
}

/**
 * An address on this machine that bare hosts reach through their default route, for the
 * services a cloud gives its instances (an object store): the host end of a namespace's link
 * made only to carry it, removed when the test process ends.
 */
export async function serviceAddress(id: string, index: number): Promise<{ address: string; close(): void }> {
  const { createNamespace } = await import("../../src/providers/local/ssh-hosts/create-ssh-host.js");
  const { defaultStateRoot, destroySync, untrackHost } = await import("../../src/providers/local/ssh-hosts/host-registry.js");
  const stateRoot = defaultStateRoot();
  const { rec, net } = await createNamespace(stateRoot, id, index);
  return {
    address: net.gateway,
    close() {
      untrackHost(rec.name);
      destroySync(stateRoot, rec);
    },
  };
}

/** SSH to a bare host: root, whose home (/root) is inside the host's own root filesystem. */
export async function bareTransport(host: BareSshHost, knownHostsPath: string): Promise<Transport> {
  return connectSsh({
    host: host.address,
    port: host.port,
    user: host.user,
    privateKeyPath: host.clientKeyPath,
    knownHostsPath,
    home: host.home,
  });
}
