import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, symlink } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { InstanceId } from "../../../src/base/ids.js";
import { Bootstrapper } from "../../../src/bootstrap/bootstrap-agent.js";
import type { NodePin } from "../../../src/bootstrap/node-pins.js";
import type { InstanceInfo, Provider } from "../../../src/providers/provider.js";
import { parseTask } from "../../../src/spec/load-task.js";
import { LocalTransport } from "../../../src/transport/local/local-transport.js";

const run = promisify(execFile);

/**
 * The download path: an instance with curl and xz but no Node fetches the release tarball from
 * the mirror (SPOTRUN_NODE_MIRROR's role, here an HTTP server on 127.0.0.1 with a tarball laid
 * out like nodejs.org/dist), checks it against the pin, and runs from it. A tarball that does
 * not match the pin is refused, and the controller's own Node is uploaded instead.
 */
let dir: string;
let server: Server;
let mirror: string;
let pin: NodePin;
const arch = process.arch === "arm64" ? "arm64" : "x64";

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "spotrun-node-dl-"));
  const version = "v20.99.0";
  const name = `node-${version}-linux-${arch}`;
  await mkdir(join(dir, "dist", version, name, "bin"), { recursive: true });
  await copyFile(process.execPath, join(dir, "dist", version, name, "bin", "node"));
  // xz -0: the fastest level (the default would take a minute on this binary); any .tar.xz unpacks the same.
  await run("tar", [
    "-C",
    join(dir, "dist", version),
    "-I",
    "xz -0 -T2",
    "-cf",
    join(dir, "dist", version, `${name}.tar.xz`),
    name,
  ]);
  const bytes = await readFile(join(dir, "dist", version, `${name}.tar.xz`));
  pin = { version, arch, file: `${name}.tar.xz`, sha256: createHash("sha256").update(bytes).digest("hex") };
  server = createServer(async (req, res) => {
    const body = await readFile(join(dir, "dist", decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname))).catch(
      () => undefined,
    );
    res.writeHead(body ? 200 : 404).end(body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const addr = server.address();
  mirror = `http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}/`;
});
after(async () => {
  server?.close();
  await rm(dir, { recursive: true, force: true });
});

/** An instance reached by local exec whose PATH has this machine's tools but no node. */
async function instance(name: string): Promise<LocalTransport> {
  const bin = join(dir, `${name}-bin`);
  await mkdir(bin, { recursive: true });
  const seen = new Set<string>();
  for (const src of ["/usr/local/bin", "/usr/bin", "/bin"])
    for (const f of await readdir(src).catch(() => [] as string[])) {
      if (f === "node" || f === "nodejs" || seen.has(f)) continue;
      seen.add(f);
      await symlink(join(src, f), join(bin, f)).catch(() => undefined);
    }
  const home = join(dir, `${name}-home`);
  await mkdir(home, { recursive: true });
  return new LocalTransport(`local:${name}`, home, { PATH: bin });
}
const provider = { kind: "local", noticeSource: "none", agentEnv: () => ({}) } as unknown as Provider;
const info: InstanceInfo = {
  id: InstanceId("i-download"),
  provider: "local",
  instanceType: "local.small",
  spot: false,
  status: "running",
  pricePerHour: 0,
  onDemandPricePerHour: 0,
  launchedAt: Date.now(),
  tags: {},
};
const input = async (name: string) => {
  const work = join(dir, `${name}-work`);
  await mkdir(work, { recursive: true });
  return {
    jobId: "j-dl",
    attempt: 0,
    restartCount: 0,
    node: 0,
    numNodes: 1,
    task: parseTask({ name: "dl", workdir: ".", run: "true" }, "dl.yaml"),
    baseDir: work,
    storeUrl: `file://${join(dir, "store")}`,
  };
};

test("no Node but curl and xz: the pinned tarball is fetched from the mirror, checked, and used", async () => {
  const t = await instance("good");
  const r = await new Bootstrapper({ nodeMirror: mirror, nodePins: [pin] }).run(provider, info, t, await input("good"));
  assert.equal(r.node.source, "downloaded");
  assert.equal(r.node.version, process.version, "the tarball's node ran (it is this machine's binary)");
  assert.match(r.node.binary, /\.spotrun\/node\/v20\.99\.0-linux-(x64|arm64)\/bin\/node$/);
  assert.match(await readFile(join(t.home, ".spotrun", "bin", "spotrun"), "utf8"), /v20\.99\.0-linux/);
});

test("a tarball that does not match the pin is refused, and the controller's Node is uploaded instead", async () => {
  const t = await instance("tampered");
  const wrong = { ...pin, sha256: "0".repeat(64) };
  const r = await new Bootstrapper({ nodeMirror: mirror, nodePins: [wrong] }).run(provider, info, t, await input("tampered"));
  assert.equal(r.node.source, "uploaded");
  assert.match(r.node.detail ?? "", /did not match the pinned SHA-256 \(refused\)/);
  assert.deepEqual(
    (await readdir(join(t.home, ".spotrun", "node"))).filter((d) => d.startsWith("v20.99.0")),
    [],
  );
});
