import { type ChildProcess, spawn } from "node:child_process";
import { randomFillSync } from "node:crypto";
import { once } from "node:events";
import { mkdir, mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { S3Client } from "@aws-sdk/client-s3";
import { CheckpointStore } from "../src/checkpoints/generations.js";
import { S3BlobStore } from "../src/checkpoints/s3/s3-blob-store.js";
import { S3RVER_CREDENTIALS } from "../test/integration/aws/s3rver-fixture.js";

/**
 * Upload one checkpoint generation (default 4 × 256 MiB = 1 GiB) to s3rver with spotrun's S3
 * store (generation protocol: sha256 of every file, multipart parts in parallel, manifest last),
 * then the same directory with `rclone copy` to the same server; print MB/s of both and the
 * ratio. The server runs in its own process; disk use is bounded to the data set, the server's
 * copy of one upload at a time, and the scratch directory is removed at the end.
 *
 *   node dist/bench/s3-upload.js [--files 4] [--file-mib 256] [--rounds 1]
 */
function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
  return v;
}

const FILES = arg("files", 4);
const FILE_MIB = arg("file-mib", 256);
const ROUNDS = arg("rounds", 1);
const MiB = 1024 * 1024;
const TOTAL = FILES * FILE_MIB * MiB;

async function writeRandomFile(path: string, bytes: number): Promise<void> {
  const fh = await open(path, "w");
  const chunk = Buffer.allocUnsafe(8 * MiB);
  try {
    for (let left = bytes; left > 0; left -= chunk.length) {
      const n = Math.min(left, chunk.length);
      randomFillSync(chunk, 0, n);
      await fh.write(chunk, 0, n);
    }
  } finally {
    await fh.close();
  }
}

async function startServer(dir: string, buckets: string[]): Promise<{ child: ChildProcess; endpoint: string }> {
  const script = join(dirname(fileURLToPath(import.meta.url)), "s3-upload-server.js");
  const child = spawn(process.execPath, [script, dir, ...buckets], { stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const [line] = (await once(lines, "line")) as [string];
  return { child, endpoint: (JSON.parse(line) as { endpoint: string }).endpoint };
}

async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill("SIGTERM");
  await once(child, "exit");
}

function rclone(src: string, endpoint: string, dest: string): Promise<void> {
  // The endpoint is plain http: a CA bundle from the environment only makes rclone's AWS SDK fail to start.
  const { AWS_CA_BUNDLE: _ca, ...inherited } = process.env;
  const env = {
    ...inherited,
    RCLONE_CONFIG_BENCH_TYPE: "s3",
    RCLONE_CONFIG_BENCH_PROVIDER: "Other",
    RCLONE_CONFIG_BENCH_ENDPOINT: endpoint,
    RCLONE_CONFIG_BENCH_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    RCLONE_CONFIG_BENCH_REGION: "us-east-1",
    RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE: "true",
  };
  return new Promise((resolve, reject) => {
    const p = spawn("rclone", ["copy", "--config", "/dev/null", src, `bench:${dest}`], {
      env,
      stdio: ["ignore", "inherit", "inherit"],
    });
    p.on("error", (e) => reject(new Error(`rclone: ${e.message} — apt-get install rclone`)));
    p.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`rclone exited ${code}`))));
  });
}

const mbps = (bytes: number, ms: number) => bytes / 1e6 / (ms / 1000);

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), "spotrun-bench-s3-"));
  const data = join(root, "generation");
  const serverDir = join(root, "s3rver");
  await mkdir(data, { recursive: true });
  let server: { child: ChildProcess; endpoint: string } | undefined;
  let client: S3Client | undefined;
  try {
    for (let i = 0; i < FILES; i++) await writeRandomFile(join(data, `shard-${i}.bin`), FILE_MIB * MiB);
    const spotrunMs: number[] = [];
    const rcloneMs: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      // A fresh server per measurement: each upload starts from an empty store and the disk holds one copy.
      server = await startServer(serverDir, ["spotrun-bench", "rclone-bench"]);
      client = new S3Client({
        endpoint: server.endpoint,
        region: "us-east-1",
        forcePathStyle: true,
        credentials: S3RVER_CREDENTIALS,
      });
      const store = new CheckpointStore(new S3BlobStore("spotrun-bench", `round-${round}`, client));
      let t = performance.now();
      const manifest = await store.save(data, { jobId: "bench", attempt: round, reason: "bench", now: Date.now() });
      spotrunMs.push(performance.now() - t);
      if (manifest.total_bytes !== TOTAL) throw new Error(`uploaded ${manifest.total_bytes} bytes, expected ${TOTAL}`);
      if ((await store.latest())?.generation !== manifest.generation) throw new Error("the uploaded generation does not verify");
      client.destroy();
      client = undefined;
      await stopServer(server.child);
      await rm(serverDir, { recursive: true, force: true });

      server = await startServer(serverDir, ["spotrun-bench", "rclone-bench"]);
      t = performance.now();
      await rclone(data, server.endpoint, `rclone-bench/round-${round}`);
      rcloneMs.push(performance.now() - t);
      await stopServer(server.child);
      server = undefined;
      await rm(serverDir, { recursive: true, force: true });
    }
    const best = (xs: number[]) => Math.min(...xs);
    const s = mbps(TOTAL, best(spotrunMs));
    const r = mbps(TOTAL, best(rcloneMs));
    const line = (name: string, ms: number[], rate: number) =>
      `${name.padEnd(22)} ${rate.toFixed(1).padStart(7)} MB/s   (best of ${ms.length}: ${ms.map((x) => (x / 1000).toFixed(2)).join(", ")} s)`;
    process.stdout.write(
      [
        `s3 upload of one checkpoint generation: ${FILES} × ${FILE_MIB} MiB = ${(TOTAL / MiB).toFixed(0)} MiB to s3rver (own process, 127.0.0.1)`,
        line("spotrun S3 store", spotrunMs, s),
        line("rclone copy", rcloneMs, r),
        `ratio spotrun/rclone: ${(s / r).toFixed(2)}× (target ≥ 1.00)`,
        "",
      ].join("\n"),
    );
  } finally {
    client?.destroy();
    if (server) await stopServer(server.child);
    await rm(root, { recursive: true, force: true });
  }
}

await main();
