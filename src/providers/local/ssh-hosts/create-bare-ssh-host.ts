import { spawn } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fingerprintOfPublicKeyLine } from "../../../transport/ssh/host-key.js";
import { ensureBareRootfs } from "../bare-root/bare-rootfs.js";
import { createNamespace, linkControls, stopListener } from "./create-ssh-host.js";
import { defaultStateRoot, destroySync, untrackHost, writeRecord } from "./host-registry.js";
import { runTool } from "./run-tool.js";
import type { BareSshHost, CreateSshHostOptions } from "./ssh-host.js";
import { generateClientKey, generateHostKey, startListening } from "./sshd-process.js";

/**
 * A host that starts with nothing, as a fresh cloud instance does: its own network namespace and
 * its own root filesystem — the cached minimal Debian under an overlay whose writable layer is
 * `opts.home` on this machine — with sshd running chrooted in it. A keeper process holds the
 * overlay in a private mount namespace, so the mounts vanish with the host's processes and
 * nothing leaks into this machine's mount table.
 */
export async function createBareSshHost(
  opts: CreateSshHostOptions & {
    progress?: (line: string) => void;
    /** Directories of this machine seen at the same path inside (the local file checkpoint store, standing in for a bucket). */
    shared?: string[];
  },
): Promise<BareSshHost> {
  const lower = await ensureBareRootfs(opts.progress ? { progress: opts.progress } : {});
  const stateRoot = defaultStateRoot();
  const { ns, rec, net, veth } = await createNamespace(stateRoot, opts.id, opts.index ?? 1);
  try {
    // As on a cloud, the instance has a default route: through its gateway it reaches this
    // machine's addresses (the metadata server, a test's object store), and nothing beyond.
    await runTool("ip", ["-n", ns, "route", "add", "default", "via", net.gateway]);
    const upper = join(opts.home, "upper");
    const work = join(opts.home, "overlay-work");
    const merged = join(opts.home, "root");
    const sshDir = join(upper, "etc", "ssh");
    for (const d of [upper, work, merged, sshDir, join(upper, "root"), join(upper, "var", "log")])
      await mkdir(d, { recursive: true });
    const client = opts.authorizedKeys ? undefined : await generateClientKey(join(stateRoot, ns));
    await writeFile(join(sshDir, "spotrun_authorized_keys"), `${(opts.authorizedKeys ?? [client!.publicLine]).join("\n")}\n`, {
      mode: 0o600,
    });
    await writeFile(join(sshDir, "sshd_config.spotrun"), sshdConfig(net.address));
    let hostKey = await generateHostKey(sshDir);

    // The keeper mounts the root and then only waits; sshd (and later the tests) enter its mount namespace.
    const mounts = [
      `mount -t overlay overlay -o lowerdir=${lower},upperdir=${upper},workdir=${work} ${merged}`,
      `mount -t proc proc ${merged}/proc`,
      `mount --rbind /dev ${merged}/dev`,
      `mount -t tmpfs -o mode=0755 tmpfs ${merged}/run && mkdir -p ${merged}/run/sshd`,
      ...(opts.shared ?? []).map((d) => `mkdir -p ${d} ${merged}${d} && mount --bind ${d} ${merged}${d}`),
    ].join(" && ");
    rec.keeperPid = await startKeeper(ns, `${mounts} && echo ready && exec sleep infinity`);
    writeRecord(stateRoot, rec);
    const inRoot = ["ip", "netns", "exec", ns, "nsenter", "-t", String(rec.keeperPid), "-m", "--", "chroot", merged];
    const startSshd = () =>
      startListening(
        [...inRoot, "/usr/sbin/sshd", "-D", "-f", "/etc/ssh/sshd_config.spotrun", "-E", "/var/log/spotrun-sshd.log"],
        join(upper, "var", "log", "spotrun-sshd.log"),
        net.address,
        22,
      );
    rec.sshdPid = await startSshd();
    writeRecord(stateRoot, rec);
    const runInRoot = (script: string, env: Record<string, string> = {}) =>
      runTool(inRoot[0] as string, [
        ...inRoot.slice(1),
        "/usr/bin/env",
        ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
        "/bin/sh",
        "-c",
        script,
      ]);
    return {
      kind: "bare",
      id: opts.id,
      ns,
      address: net.address,
      gateway: net.gateway,
      port: 22,
      user: "root",
      home: "/root",
      rootDir: upper,
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
        // Through the mounted root: files changed under a live overlay's upper layer need not show through.
        const made = await runInRoot(
          "rm -f /etc/ssh/ssh_host_ed25519_key /etc/ssh/ssh_host_ed25519_key.pub && ssh-keygen -q -t ed25519 -N '' -C spotrun-host -f /etc/ssh/ssh_host_ed25519_key && cat /etc/ssh/ssh_host_ed25519_key.pub",
        );
        hostKey = { path: join(sshDir, "ssh_host_ed25519_key"), fingerprint: fingerprintOfPublicKeyLine(made.stdout) };
        rec.sshdPid = await startSshd();
        writeRecord(stateRoot, rec);
        return hostKey.fingerprint;
      },
      runAsRoot: runInRoot,
    };
  } catch (e) {
    untrackHost(ns);
    destroySync(stateRoot, rec);
    throw e;
  }
}

function sshdConfig(listen: string): string {
  return `${[
    "Port 22",
    `ListenAddress ${listen}`,
    "HostKey /etc/ssh/ssh_host_ed25519_key",
    "PidFile /run/sshd.pid",
    "AuthorizedKeysFile /etc/ssh/spotrun_authorized_keys",
    "PermitRootLogin prohibit-password",
    "PubkeyAuthentication yes",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "UsePAM no",
    "UseDNS no",
    "StrictModes no",
    "PrintMotd no",
    "PrintLastLog no",
    "MaxStartups 64:30:128",
    "Subsystem sftp internal-sftp",
    "LogLevel INFO",
  ].join("\n")}\n`;
}

/** Start the keeper inside the namespace and wait until it says the root is mounted. */
function startKeeper(ns: string, script: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn("ip", ["netns", "exec", ns, "unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", script], {
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let err = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the bare host's root was not mounted within 10 s: ${err.trim()}`));
    }, 10_000);
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
    });
    child.stdout.on("data", (d: Buffer) => {
      if (!d.toString().includes("ready")) return;
      clearTimeout(timer);
      child.stdout.destroy();
      child.stderr.destroy();
      child.unref();
      resolve(child.pid as number);
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`mounting the bare host's root failed (exit ${code}): ${err.trim()}`));
    });
  });
}
