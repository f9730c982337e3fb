import { spawn } from "node:child_process";
import { mkdir, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { join } from "node:path";
import { fingerprintOfPublicKeyLine } from "../../../transport/ssh/host-key.js";
import { runTool } from "./run-tool.js";

export const SSHD = "/usr/sbin/sshd";

/** Files of one sshd: config, host key, authorized keys, log; all inside `dir`. */
export interface SshdFiles {
  dir: string;
  config: string;
  hostKey: string;
  log: string;
}

export async function generateHostKey(dir: string): Promise<{ path: string; fingerprint: string }> {
  const path = join(dir, "ssh_host_ed25519_key");
  await rm(path, { force: true });
  await rm(`${path}.pub`, { force: true });
  await runTool("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "spotrun-host", "-f", path]);
  return { path, fingerprint: fingerprintOfPublicKeyLine(await readFile(`${path}.pub`, "utf8")) };
}

/** A client key pair the host authorizes, for callers that bring none. */
export async function generateClientKey(dir: string): Promise<{ path: string; publicLine: string }> {
  const path = join(dir, "client_ed25519");
  await runTool("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "spotrun-client", "-f", path]);
  return { path, publicLine: (await readFile(`${path}.pub`, "utf8")).trim() };
}

/**
 * A bin directory with everything the system has except rsync, so a host can look like a
 * machine without rsync while its shell, tar and coreutils still work.
 */
async function pathWithoutRsync(dir: string): Promise<string> {
  const bin = join(dir, "bin-without-rsync");
  await mkdir(bin, { recursive: true });
  const seen = new Set<string>();
  for (const src of ["/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"]) {
    let names: string[] = [];
    try {
      names = await readdir(src);
    } catch {
      continue;
    }
    for (const name of names) {
      if (name === "rsync" || seen.has(name)) continue;
      seen.add(name);
      await symlink(join(src, name), join(bin, name)).catch(() => undefined);
    }
  }
  return bin;
}

export async function writeSshdConfig(opts: {
  dir: string;
  listen: string;
  port: number;
  authorizedKeys: string[];
  withoutRsync: boolean;
  /** The host's home; its sessions see it as $HOME. */
  home: string;
}): Promise<SshdFiles> {
  const files: SshdFiles = {
    dir: opts.dir,
    config: join(opts.dir, "sshd_config"),
    hostKey: join(opts.dir, "ssh_host_ed25519_key"),
    log: join(opts.dir, "sshd.log"),
  };
  const authorized = join(opts.dir, "authorized_keys");
  await writeFile(authorized, `${opts.authorizedKeys.join("\n")}\n`, { mode: 0o600 });
  const lines = [
    `Port ${opts.port}`,
    `ListenAddress ${opts.listen}`,
    `HostKey ${files.hostKey}`,
    `PidFile ${join(opts.dir, "sshd.pid")}`,
    `AuthorizedKeysFile ${authorized}`,
    "PermitRootLogin prohibit-password",
    "PubkeyAuthentication yes",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "UsePAM no",
    "UseDNS no",
    // The state dir lives under /tmp; sshd's ownership checks on it would only get in the way.
    "StrictModes no",
    "PrintMotd no",
    "PrintLastLog no",
    // MaxSessions stays at OpenSSH's default (10), as on a cloud image, so clients are tested against it;
    // MaxStartups is raised because every rsync of a fan-out opens its own connection at once.
    "MaxStartups 64:30:128",
    "Subsystem sftp internal-sftp",
    "LogLevel INFO",
  ];
  // Sessions get the host's own home as $HOME, as a separate machine would have: the login shell
  // then reads that home's dotfiles, not the dotfiles of whoever runs the tests on this machine.
  const env = [`HOME=${opts.home}`];
  if (opts.withoutRsync) env.push(`PATH=${await pathWithoutRsync(opts.dir)}`);
  lines.push(`SetEnv ${env.map((e) => `"${e}"`).join(" ")}`);
  await writeFile(files.config, `${lines.join("\n")}\n`);
  return files;
}

/** sshd run by root refuses to start without its privilege-separation directory; as a user it needs none. */
export const ensurePrivsepDir = async (): Promise<void> => {
  if (process.getuid?.() !== 0) return;
  await mkdir("/run/sshd", { recursive: true, mode: 0o755 });
};

/** Start sshd in the foreground (`-D`) under an optional prefix (`ip netns exec NS`) and wait until it accepts TCP. */
export async function startSshd(files: SshdFiles, prefix: string[], address: string, port: number): Promise<number> {
  await ensurePrivsepDir();
  return startListening([...prefix, SSHD, "-D", "-f", files.config, "-E", files.log], files.log, address, port);
}

/** Spawn a server detached and wait until it accepts TCP on address:port; its log explains an early exit. */
export async function startListening(argv: string[], log: string, address: string, port: number): Promise<number> {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: "ignore" });
  child.unref();
  let exited: number | null | undefined;
  child.once("exit", (code) => {
    exited = code;
  });
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (exited !== undefined) {
      const text = await readFile(log, "utf8").catch(() => "");
      throw new Error(
        `sshd exited with ${exited} before accepting connections: ${text.trim().split("\n").slice(-3).join(" | ")}`,
      );
    }
    if (await canConnect(address, port)) return child.pid!;
    await new Promise((r) => setTimeout(r, 40));
  }
  child.kill("SIGKILL");
  throw new Error(`sshd on ${address}:${port} did not accept connections within 10 s (log: ${log})`);
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(500, () => done(false));
    s.once("connect", () => done(true));
    s.once("error", () => done(false));
  });
}

/** The pids of `root` and everything it forked (sshd's per-connection children). */
export async function processTree(root: number): Promise<number[]> {
  const parent = new Map<number, number>();
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, "utf8").catch(() => "");
    // The command name may contain spaces and parentheses; the fields after its last ')' are fixed.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (rest[1]) parent.set(Number(name), Number(rest[1]));
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) for (const [pid, ppid] of parent) if (ppid === out[i]) out.push(pid);
  return out;
}

/** Wait (up to `ms`) until none of `pids` runs any more; a zombie awaiting its parent's reaping counts as gone. */
export async function waitGone(pids: number[], ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const running = [];
    for (const pid of pids) {
      const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
      if (stat && stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z") running.push(pid);
    }
    if (running.length === 0 || Date.now() > deadline) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}
