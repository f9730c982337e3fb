/**
 * Fan a 50 MB workdir (thousands of small files and a few large ones) out to 3 SSH hosts, each
 * in its own network namespace with a real sshd: spotrun's upload (the three hosts at once,
 * .gitignore-aware, rsync over pinned ssh) against a plain sequential `rsync -a` loop to the
 * same hosts, in the same run, into fresh directories each time. Then a warm re-sync with
 * nothing changed, which is what a retry on the same hosts costs.
 * With --with-tar, as many hosts again without rsync time the tar-stream fallback.
 * Usage: node dist/bench/fanout.js [--hosts 3] [--mb 50] [--small 2000] [--rounds 2] [--with-tar]
 */
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { seededRandom } from "../src/base/random.js";
import { createLoopbackSshHost } from "../src/providers/local/ssh-hosts/create-loopback-ssh-host.js";
import { createSshHost } from "../src/providers/local/ssh-hosts/create-ssh-host.js";
import type { SshHost } from "../src/providers/local/ssh-hosts/ssh-host.js";
import { sweepSshHosts } from "../src/providers/local/ssh-hosts/sweep-ssh-hosts.js";
import { connectSsh } from "../src/transport/ssh/connect.js";
import type { Transport } from "../src/transport/transport.js";

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const HOSTS = arg("hosts", 3);
const TOTAL_MB = arg("mb", 50);
const SMALL = arg("small", 2000);
const ROUNDS = arg("rounds", 2);
const LARGE = 3;

function run(file: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) =>
    execFile(file, args, { maxBuffer: 1 << 24 }, (e, _o, stderr) => (e ? reject(new Error(`${file}: ${stderr}`)) : resolve())),
  );
}

/** Small files of 1-8 KiB in nested dirs, then a few large ones taking the rest of the budget; incompressible. */
async function makeWorkdir(root: string): Promise<{ files: number; bytes: number }> {
  const rand = seededRandom(7);
  const bytes = (n: number) => {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i += 4) b.writeUInt32LE(Math.floor(rand() * 2 ** 32), Math.min(i, n - 4));
    return b;
  };
  let total = 0;
  for (let i = 0; i < SMALL; i++) {
    const dir = join(root, "src", `pkg${i % 40}`, `mod${i % 7}`);
    await mkdir(dir, { recursive: true });
    const b = bytes(1024 + Math.floor(rand() * 7 * 1024));
    total += b.length;
    await writeFile(join(dir, `file${i}.py`), b);
  }
  const largeEach = Math.floor((TOTAL_MB * 1024 * 1024 - total) / LARGE);
  await mkdir(join(root, "data"), { recursive: true });
  for (let i = 0; i < LARGE; i++) {
    await writeFile(join(root, "data", `shard-${i}.bin`), bytes(largeEach));
    total += largeEach;
  }
  await writeFile(join(root, ".gitignore"), "__pycache__/\n*.log\n");
  return { files: SMALL + LARGE + 1, bytes: total };
}

const seconds = async (f: () => Promise<unknown>): Promise<number> => {
  const t0 = performance.now();
  await f();
  return (performance.now() - t0) / 1000;
};

async function main(): Promise<void> {
  await sweepSshHosts();
  const dir = await mkdtemp(join(tmpdir(), "spotrun-fanout-"));
  const allHosts: SshHost[] = [];
  const allTransports: Transport[] = [];
  try {
    const key = join(dir, "id_ed25519");
    await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]);
    const pub = (await readFile(`${key}.pub`, "utf8")).trim();
    const netns = process.getuid?.() === 0;
    const knownHostsPath = join(dir, "known_hosts");
    const makeHosts = async (
      prefix: string,
      firstIndex: number,
      withoutRsync: boolean,
    ): Promise<{ hosts: SshHost[]; transports: Transport[] }> => {
      const hosts: SshHost[] = [];
      const transports: Transport[] = [];
      for (let i = 0; i < HOSTS; i++) {
        const o = {
          id: `${prefix}-${process.pid}-${i + 1}`,
          home: join(dir, `${prefix}-home-${i + 1}`),
          authorizedKeys: [pub],
          withoutRsync,
        };
        const h = netns ? await createSshHost({ ...o, index: firstIndex + i }) : await createLoopbackSshHost(o);
        allHosts.push(h);
        hosts.push(h);
        const t = await connectSsh({
          host: h.address,
          port: h.port,
          user: h.user,
          privateKeyPath: key,
          knownHostsPath,
          home: h.home,
        });
        allTransports.push(t);
        transports.push(t);
      }
      return { hosts, transports };
    };
    const { hosts, transports } = await makeHosts("fan", 61, false);
    // Hosts without rsync show what the tar-stream fallback costs for the same workdir.
    const tar = process.argv.includes("--with-tar") ? await makeHosts("fantar", 71, true) : undefined;
    const work = join(dir, "work");
    const made = await makeWorkdir(work);
    const sshE = `ssh -i ${key} -o UserKnownHostsFile=${knownHostsPath} -o StrictHostKeyChecking=yes -o BatchMode=yes -o LogLevel=ERROR`;
    const rsyncLoop = async (dest: string) => {
      for (const h of hosts)
        await run("rsync", ["-a", "-e", `${sshE} -p ${h.port}`, `${work}/`, `${h.user}@${h.address}:${h.home}/${dest}/`]);
    };
    const ours = async (dest: string) => Promise.all(transports.map((t) => t.upload(work, dest)));

    console.log(
      `fan-out of ${(made.bytes / 2 ** 20).toFixed(1)} MiB in ${made.files} files (${SMALL} small, ${LARGE} large) to ${HOSTS} ${netns ? "netns" : "loopback"} sshd hosts`,
    );
    const rows: { round: number; oursCold: number; loopCold: number; oursWarm: number; loopWarm: number }[] = [];
    for (let r = 1; r <= ROUNDS; r++) {
      // Alternate which goes first so neither always meets a warmer page cache.
      const first = r % 2 === 1;
      let oursCold = 0;
      let loopCold = 0;
      if (first) {
        oursCold = await seconds(() => ours(`ours-${r}`));
        loopCold = await seconds(() => rsyncLoop(`loop-${r}`));
      } else {
        loopCold = await seconds(() => rsyncLoop(`loop-${r}`));
        oursCold = await seconds(() => ours(`ours-${r}`));
      }
      const oursWarm = await seconds(() => ours(`ours-${r}`));
      const loopWarm = await seconds(() => rsyncLoop(`loop-${r}`));
      rows.push({ round: r, oursCold, loopCold, oursWarm, loopWarm });
      console.log(
        `round ${r}: cold  spotrun ${oursCold.toFixed(2)} s  rsync loop ${loopCold.toFixed(2)} s  ratio ${(loopCold / oursCold).toFixed(2)}x | ` +
          `warm  spotrun ${oursWarm.toFixed(2)} s  rsync loop ${loopWarm.toFixed(2)} s  ratio ${(loopWarm / oursWarm).toFixed(2)}x`,
      );
      for (const h of hosts) await rm(join(h.home, `ours-${r}`), { recursive: true, force: true });
      for (const h of hosts) await rm(join(h.home, `loop-${r}`), { recursive: true, force: true });
    }
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
    const oc = med(rows.map((r) => r.oursCold));
    const lc = med(rows.map((r) => r.loopCold));
    const ow = med(rows.map((r) => r.oursWarm));
    const lw = med(rows.map((r) => r.loopWarm));
    console.log(
      `cold fan-out: spotrun upload ${oc.toFixed(2)} s, sequential rsync loop ${lc.toFixed(2)} s, ratio ${(lc / oc).toFixed(2)}x`,
    );
    console.log(
      `warm re-sync: spotrun upload ${ow.toFixed(2)} s, sequential rsync loop ${lw.toFixed(2)} s, ratio ${(lw / ow).toFixed(2)}x`,
    );
    if (tar) {
      const tarCold = await seconds(() => Promise.all(tar.transports.map((t) => t.upload(work, "tar-fan"))));
      console.log(
        `tar-stream fallback (hosts without rsync): spotrun upload ${tarCold.toFixed(2)} s, ratio to the rsync loop ${(lc / tarCold).toFixed(2)}x`,
      );
    }
  } finally {
    await Promise.all(allTransports.map((t) => t.close()));
    for (const h of allHosts) await h.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
