/**
 * From "instance running" to "user process started" on bare hosts (a network namespace with its
 * own minimal Debian root: no Node, no spotrun), split into connect / Node obtained / agent
 * uploaded / workdir / agent started / user process running. Cold: nothing on the host, so the
 * controller's Node is uploaded (gzipped, checked by hash) and the agent artifact too. Warm: the
 * same host again, both already there by hash. The peer is what a naive bootstrap sends: the
 * same Node binary and artifact uncompressed with the system `scp`, timed on the same hosts.
 * Usage: node dist/bench/bootstrap.js [--rounds 3]
 */
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { InstanceId } from "../src/base/ids.js";
import { agentArtifact } from "../src/bootstrap/agent-artifact.js";
import { Bootstrapper, type BootstrapReport } from "../src/bootstrap/bootstrap-agent.js";
import { LocalNodeBinary } from "../src/bootstrap/local-node-binary.js";
import { ensureBareRootfs } from "../src/providers/local/bare-root/bare-rootfs.js";
import { createBareSshHost } from "../src/providers/local/ssh-hosts/create-bare-ssh-host.js";
import type { BareSshHost } from "../src/providers/local/ssh-hosts/ssh-host.js";
import type { InstanceInfo, Provider } from "../src/providers/provider.js";
import { parseTask } from "../src/spec/load-task.js";
import { connectSsh } from "../src/transport/ssh/connect.js";
import type { Transport } from "../src/transport/transport.js";

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const ROUNDS = arg("rounds", 3);

const provider = { kind: "local", noticeSource: "none", agentEnv: () => ({}) } as unknown as Provider;
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

interface Row {
  connect: number;
  node: number;
  agent: number;
  workdir: number;
  start: number;
  userProcess: number;
  total: number;
}

async function once(
  t: Transport,
  work: string,
  attempt: number,
  connectMs: number,
  t0: number,
  boot: Bootstrapper,
): Promise<Row> {
  const input = {
    jobId: "j-bench",
    attempt,
    restartCount: attempt,
    node: 0,
    numNodes: 1,
    task: parseTask({ name: "bench", workdir: ".", run: `date +%s%N > started-${attempt}` }, "bench.yaml"),
    baseDir: work,
    storeUrl: "file:///tmp/spotrun-bench-bootstrap-store",
  };
  const r: BootstrapReport = await boot.run(provider, info("i-bench"), t, input);
  // The user's process says when it started (the instance's clock is this machine's).
  for (;;) {
    const b = await t.readFile(`workdir/started-${attempt}`);
    if (b && b.length > 0) {
      const startedMs = Number(BigInt(b.toString().trim()) / 1_000_000n);
      const total = startedMs - t0;
      return {
        connect: connectMs,
        node: r.node.ms,
        agent: r.agent.ms,
        workdir: r.workdirMs,
        start: r.startMs,
        userProcess: total - connectMs - r.totalMs,
        total,
      };
    }
    await new Promise((res) => setTimeout(res, 10));
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const fmt = (rows: Row[], k: keyof Row) => `${(median(rows.map((r) => r[k])) / 1000).toFixed(2)} s`;

function scp(h: BareSshHost, files: string[]): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) =>
    execFile(
      "scp",
      [
        "-q",
        "-i",
        h.clientKeyPath as string,
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        ...files,
        `root@${h.address}:/root/`,
      ],
      (e, _o, stderr) => (e ? reject(new Error(`scp: ${stderr}`)) : resolve(performance.now() - t0)),
    ),
  );
}

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), "spotrun-bench-bootstrap-"));
  const work = join(root, "work");
  await mkdir(work, { recursive: true });
  await writeFile(join(work, "README"), "bench\n");
  await ensureBareRootfs({ progress: (l) => process.stderr.write(`${l}\n`) });
  const art = await agentArtifact();
  const localNode = new LocalNodeBinary();
  const gz = await localNode.gzipped(); // made once per machine: not part of any instance's bootstrap
  const boot = new Bootstrapper({ localNode });
  const cold: Row[] = [];
  const warm: Row[] = [];
  const peer: number[] = [];
  const hosts: BareSshHost[] = [];
  try {
    for (let i = 0; i < ROUNDS; i++) {
      const h = await createBareSshHost({ id: `bb${process.pid % 10000}-${i}`, index: 60 + i, home: join(root, `host-${i}`) });
      hosts.push(h);
      const t0 = Date.now();
      const t = await connectSsh({
        host: h.address,
        port: h.port,
        user: h.user,
        privateKeyPath: h.clientKeyPath,
        knownHostsPath: join(root, `known-${i}`),
        home: h.home,
      });
      const connectMs = Date.now() - t0;
      cold.push(await once(t, work, 0, connectMs, t0, boot));
      // The first agent exits with its run; the next attempt finds Node and the agent by hash.
      await new Promise((res) => setTimeout(res, 300));
      const t1 = Date.now();
      warm.push(await once(t, work, 1, 0, t1, boot));
      await t.close();
      peer.push(await scp(h, [localNode.describe().path, art.path]));
      process.stderr.write(
        `round ${i + 1}/${ROUNDS}: cold ${(cold.at(-1)?.total ?? 0) / 1000} s, warm ${(warm.at(-1)?.total ?? 0) / 1000} s\n`,
      );
    }
  } finally {
    for (const h of hosts) await h.stop();
    await rm(root, { recursive: true, force: true });
  }
  const coldTotal = median(cold.map((r) => r.total));
  const peerMs = median(peer);
  console.log(`agent artifact: ${(art.bytes / 1048576).toFixed(2)} MB (budget 15 MB), sha256 ${art.sha256.slice(0, 16)}…`);
  console.log(`Node uploaded: ${(gz.gzBytes / 1048576).toFixed(1)} MB gzipped (${process.version} ${process.arch})`);
  console.log(`bare host, instance running → user process started (median of ${ROUNDS}):`);
  for (const [name, rows] of [
    ["cold (Node uploaded)", cold],
    ["warm (hash present)", warm],
  ] as const)
    console.log(
      `  ${name.padEnd(21)} total ${fmt(rows, "total")}: connect ${fmt(rows, "connect")}, Node ${fmt(rows, "node")}, agent ${fmt(rows, "agent")}, workdir ${fmt(rows, "workdir")}, start ${fmt(rows, "start")}, user process ${fmt(rows, "userProcess")}`,
    );
  console.log(`targets: cold ≤ 20 s, warm ≤ 2 s`);
  console.log(
    `peer: scp of the same Node binary and artifact, uncompressed: ${(peerMs / 1000).toFixed(2)} s (cold bootstrap / scp = ${(coldTotal / peerMs).toFixed(2)}×)`,
  );
}

await main();
