import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { isAlive } from "../ssh-hosts/host-registry.js";

/**
 * The root filesystem of a bare test host: a minimal Debian (`debootstrap --variant=minbase`)
 * plus what a stock cloud image has and the tests use (sshd, python3 for the example trainer,
 * tmux for sessions) — and no Node, no spotrun. Made once per machine under ~/.cache/spotrun,
 * outside any checkout, from the Debian mirror apt already uses here.
 */
export const BARE_PACKAGES = ["openssh-server", "python3", "tmux"] as const;
/** Bump when the recipe changes, so an old cached root is not used. */
const RECIPE = 1;

export interface BareRootfsOptions {
  cacheDir?: string;
  progress?: (line: string) => void;
}

export const bareRootfsCacheDir = (): string =>
  join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "spotrun", "bare-rootfs");

/** The suite this machine runs (`bookworm`) and the mirror its apt uses. */
export function debianSource(): { suite: string; mirror: string } {
  const osRelease = readFileSync("/etc/os-release", "utf8");
  const suite = /^VERSION_CODENAME=(.+)$/m.exec(osRelease)?.[1]?.replace(/"/g, "").trim() || "bookworm";
  return { suite, mirror: aptMirror() ?? "http://deb.debian.org/debian" };
}

/** The first `deb` URI of the main Debian archive in apt's sources (deb822 or one-line form). */
function aptMirror(): string | undefined {
  const files = ["/etc/apt/sources.list"];
  try {
    for (const f of readdirSync("/etc/apt/sources.list.d"))
      if (/\.(sources|list)$/.test(f)) files.push(join("/etc/apt/sources.list.d", f));
  } catch {}
  for (const f of files) {
    let text = "";
    try {
      text = readFileSync(f, "utf8");
    } catch {
      continue;
    }
    for (const m of text.matchAll(/^URIs:\s*(\S+)/gm)) if (m[1] && !/security/.test(m[1])) return m[1];
    for (const m of text.matchAll(/^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+\S+/gm)) if (m[1] && !/security/.test(m[1])) return m[1];
  }
  return undefined;
}

/**
 * The cached root, built first when missing. Concurrent callers (test files, engineers) are safe:
 * one builds into a temporary directory under a lock and renames it into place; the others wait.
 */
export async function ensureBareRootfs(opts: BareRootfsOptions = {}): Promise<string> {
  const cache = opts.cacheDir ?? bareRootfsCacheDir();
  const { suite, mirror } = debianSource();
  const final = join(cache, `${suite}-${process.arch}-r${RECIPE}`);
  if (existsSync(join(final, ".spotrun-rootfs-ready"))) return final;
  await mkdir(cache, { recursive: true });
  const lock = `${final}.lock`;
  for (;;) {
    if (existsSync(join(final, ".spotrun-rootfs-ready"))) return final;
    try {
      await mkdir(lock);
      await writeFile(join(lock, "owner"), String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const owner = Number(await readFile(join(lock, "owner"), "utf8").catch(() => "0"));
      // A lock whose builder died is taken over (an owner yet to write its pid gets a moment).
      if (owner && !isAlive(owner)) await rm(lock, { recursive: true, force: true });
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  try {
    if (existsSync(join(final, ".spotrun-rootfs-ready"))) return final;
    const tmp = `${final}.build-${process.pid}`;
    await rm(tmp, { recursive: true, force: true });
    const started = Date.now();
    opts.progress?.(
      `building the bare-host Debian root (${suite}, minbase + ${BARE_PACKAGES.join(", ")}) from ${mirror} — once per machine, a few minutes`,
    );
    await debootstrap(tmp, suite, mirror, opts.progress);
    // Each host makes its own host keys; the image must not carry shared ones.
    for (const f of readdirSync(join(tmp, "etc", "ssh"))) if (f.startsWith("ssh_host_")) await rm(join(tmp, "etc", "ssh", f));
    await rm(join(tmp, "var", "cache", "apt", "archives"), { recursive: true, force: true });
    await writeFile(join(tmp, ".spotrun-rootfs-ready"), `${new Date().toISOString()}\n`);
    await rm(final, { recursive: true, force: true });
    await rename(tmp, final);
    opts.progress?.(`bare-host root ready in ${((Date.now() - started) / 1000).toFixed(0)} s: ${final}`);
    return final;
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

function debootstrap(dir: string, suite: string, mirror: string, progress?: (line: string) => void): Promise<void> {
  const args = ["--variant=minbase", `--include=${BARE_PACKAGES.join(",")}`, suite, dir, mirror];
  return new Promise((resolve, reject) => {
    const child = spawn("debootstrap", args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
    let tail = "";
    const seen = new Set<string>();
    const onData = (d: Buffer) => {
      const text = d.toString();
      tail = (tail + text).slice(-4000);
      // debootstrap says `I: Retrieving …`, `I: Unpacking …`: one line per stage is enough for a person.
      for (const line of text.split("\n")) {
        const stage = /^I: (Retrieving|Validating|Unpacking|Configuring|Installing|Extracting|Base system)/.exec(line)?.[1];
        if (stage && !seen.has(stage)) {
          seen.add(stage);
          progress?.(`  debootstrap: ${line.slice(3).trim()}`);
        }
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.once("error", (e) =>
      reject(new Error(`cannot run debootstrap (${(e as NodeJS.ErrnoException).code}): install it with scripts/install-deps.sh`)),
    );
    child.once("close", (code) =>
      code === 0 ? resolve() : reject(new Error(`debootstrap exited ${code}: ${tail.trim().split("\n").slice(-3).join(" | ")}`)),
    );
  });
}
