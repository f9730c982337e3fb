import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { SpotrunError } from "../../../src/base/errors.js";
import { seededRandom } from "../../../src/base/random.js";
import { connectSsh } from "../../../src/transport/ssh/connect.js";
import { type NamedTransport, parallelExec } from "../../../src/transport/ssh/parallel-exec.js";
import { parallelUpload } from "../../../src/transport/ssh/parallel-upload.js";
import { EXEC_TIMEOUT } from "../../../src/transport/ssh/remote-exec.js";
import type { SshTransport } from "../../../src/transport/ssh/ssh-transport.js";
import type { Transport } from "../../../src/transport/transport.js";
import { checksums } from "../../support/checksums.js";
import { type SshCluster, startSshCluster } from "../../support/ssh-cluster.js";

/** A workdir with what real ones have: nested .gitignore files, build output, a symlink, binary data. */
async function makeWorkdir(root: string): Promise<void> {
  const rand = seededRandom(42);
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256)));
  const files: Record<string, string | Buffer> = {
    ".gitignore": "*.log\nbuild/\n/secret.env\n",
    "train.py": "print('train')\n",
    "secret.env": "KEY=1\n",
    "run.log": "noise\n",
    "build/out.o": bytes(100),
    "data/shard-0.bin": bytes(300_000),
    "data/shard-1.bin": bytes(5_000),
    "data/.gitignore": "*.tmp\n!keep.tmp\n",
    "data/scratch.tmp": "x",
    "data/keep.tmp": "kept by negation",
    "nested/deep/name with spaces.txt": "spaces\n",
    "nested/deep/app.log": "ignored at any depth\n",
    "checkpoints/step-1/model.bin": bytes(1000),
    "notes/todo.md": "- ship\n",
  };
  for (const [p, data] of Object.entries(files)) {
    await mkdir(join(root, p, ".."), { recursive: true });
    await writeFile(join(root, p), data);
  }
  await symlink("train.py", join(root, "link-to-train.py"));
}

/** What must arrive: everything except .gitignore'd paths and the `checkpoints/` + `*.md` excludes. */
const EXPECTED = [
  ".gitignore",
  "data/.gitignore",
  "data/keep.tmp",
  "data/shard-0.bin",
  "data/shard-1.bin",
  "nested/deep/name with spaces.txt",
  "train.py",
];
const EXCLUDE = ["checkpoints/", "*.md"];

describe("SSH transport against real sshd hosts", () => {
  let cluster: SshCluster;
  let transports: Transport[] = [];
  let work: string;

  before(async () => {
    // node-3's sessions have no rsync, so it must be served by the tar stream.
    cluster = await startSshCluster({ n: 3, name: "xport", withoutRsync: [2], firstIndex: 21 });
    transports = await Promise.all([0, 1, 2].map((i) => connectSsh(cluster.target(i), { keepaliveMs: 1000 })));
    work = await mkdtemp(join(tmpdir(), "spotrun-workdir-"));
    await makeWorkdir(work);
  });
  after(async () => {
    await Promise.all(transports.map((t) => t.close()));
    await cluster?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("pins every host's key on first contact in OpenSSH known_hosts format", async () => {
    const lines = (await readFile(cluster.knownHostsPath, "utf8")).trim().split("\n");
    assert.equal(lines.length, 3);
    for (const [i, h] of cluster.hosts.entries()) {
      const name = h.port === 22 ? h.address : `[${h.address}]:${h.port}`;
      const line = lines.find((l) => l.startsWith(`${name} `));
      assert.ok(line, `no line for ${name}`);
      const blob = Buffer.from(line.split(" ")[2]!, "base64");
      assert.equal(
        `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`,
        h.hostKeyFingerprint,
        `node-${i + 1}`,
      );
    }
  });

  it("streams stdout and stderr while the command runs and reports the exit status", async () => {
    const t = transports[0]!;
    const seen: { s: string; at: number }[] = [];
    const errs: string[] = [];
    const r = await t.exec("echo one; sleep 0.4; echo two >&2; echo three; exit 7", {
      onStdout: (s) => seen.push({ s, at: Date.now() }),
      onStderr: (s) => errs.push(s),
    });
    const end = Date.now();
    assert.equal(r.exitCode, 7);
    assert.equal(r.signal, null);
    assert.equal(r.stdout, "one\nthree\n");
    assert.equal(r.stderr, "two\n");
    assert.equal(seen.map((x) => x.s).join(""), r.stdout);
    assert.equal(errs.join(""), "two\n");
    assert.ok(end - seen[0]!.at >= 300, "the first line arrived before the command finished");
  });

  it("reports death by signal, runs in home with env and relative cwd", async () => {
    const t = transports[1]!;
    const killed = await t.exec("kill -TERM $$");
    assert.equal(killed.exitCode, null);
    assert.match(killed.signal ?? "", /TERM/);
    await t.exec("mkdir -p sub/dir");
    const r = await t.exec('pwd; printf "%s|%s\\n" "$A" "$B"', { cwd: "sub/dir", env: { A: "it's", B: "x y $HOME" } });
    assert.equal(r.stdout, `${cluster.hosts[1]!.home}/sub/dir\nit's|x y $HOME\n`);
    assert.equal((await t.exec("pwd")).stdout.trim(), cluster.hosts[1]!.home);
    const input = await t.exec("wc -c", { stdin: "12345" });
    assert.equal(input.stdout.trim(), "5");
  });

  it("runs more commands at once than sshd's default MaxSessions (10) allows on one connection", async () => {
    const t = transports[1]!;
    const results = await Promise.all(Array.from({ length: 24 }, (_, i) => t.exec(`sleep 0.2; echo ${i}`)));
    assert.deepEqual(
      results.map((r) => [r.exitCode, r.stdout]),
      Array.from({ length: 24 }, (_, i) => [0, `${i}\n`]),
    );
  });

  it("a timeout or an abort stops the whole remote process tree", async () => {
    const t = transports[0]!;
    const started = Date.now();
    await assert.rejects(
      t.exec("echo $$ > tree.pgid; sleep 30 | cat", { timeoutMs: 1500 }),
      (e: unknown) => e instanceof SpotrunError && e.code === EXEC_TIMEOUT,
    );
    assert.ok(Date.now() - started < 10_000, "the timeout did not end the command");
    const pgid = (await t.exec("cat tree.pgid")).stdout.trim();
    assert.match(pgid, /^\d+$/);
    assert.equal((await t.exec(`kill -0 -${pgid}`)).exitCode, 1, "processes of the timed-out command survived");

    const ac = new AbortController();
    // Abort once the command is surely running, however slow the host's shell is to start.
    const running = t.exec("echo $$ > abort.pgid; echo started; sleep 30", {
      signal: ac.signal,
      onStdout: (s) => {
        if (s.includes("started")) ac.abort(new Error("user pressed Ctrl-C"));
      },
    });
    await assert.rejects(running, /Ctrl-C/);
    const pgid2 = (await t.exec("cat abort.pgid")).stdout.trim();
    assert.equal((await t.exec(`kill -0 -${pgid2}`)).exitCode, 1);
  });

  it("writes files atomically and reads them from an offset", async () => {
    const t = transports[2]!;
    await t.writeFile("state/agent.json", '{"a":1}');
    await t.writeFile("state/agent.json", '{"a":22}');
    assert.equal((await t.readFile("state/agent.json"))?.toString(), '{"a":22}');
    assert.equal((await t.readFile(`${cluster.hosts[2]!.home}/state/agent.json`, 5))?.toString(), "22}");
    assert.equal(await t.readFile("state/missing.json"), undefined);
    const bin = Buffer.from([0, 255, 10, 13, 0, 128]);
    await t.writeFile("state/bin", bin);
    assert.deepEqual(await t.readFile("state/bin"), bin);
    assert.equal((await t.exec("ls state")).stdout, "agent.json\nbin\n", "a temp file was left behind");
    // The agent's config carries the task's envs: the instance's user only, whatever the umask.
    assert.equal((await t.exec("umask 022; stat -c '%a %n' state state/agent.json")).stdout, "700 state\n600 state/agent.json\n");
  });

  it("runs a command on all three hosts in parallel with prefixed lines and an aggregated result", async () => {
    const named: NamedTransport[] = transports.map((transport, i) => ({ name: `node-${i + 1}`, transport }));
    const lines: string[] = [];
    // A barrier in a directory all three hosts see: no host gets past it until every host has
    // started, so hosts run one after another would time out here instead of passing slowly.
    const barrier = join(cluster.dir, "barrier");
    await mkdir(barrier);
    const r = await parallelExec(
      named,
      `echo "worker $SPOT_WORKER_ID of $SPOT_NUM_WORKERS"; touch ${barrier}/$SPOT_WORKER_ID; ` +
        `i=0; while [ "$(ls ${barrier} | wc -l)" -lt 3 ]; do i=$((i+1)); [ $i -lt 200 ] || exit 9; sleep 0.05; done; ` +
        '[ "$SPOT_WORKER_ID" != 1 ] || exit 3',
      {
        env: { SPOT_NUM_WORKERS: "3" },
        envFor: (_name, i) => ({ SPOT_WORKER_ID: String(i) }),
        onLine: (l) => lines.push(l),
      },
    );
    assert.deepEqual(lines.sort(), ["[node-1] worker 0 of 3", "[node-2] worker 1 of 3", "[node-3] worker 2 of 3"]);
    assert.equal(r.ok, false);
    assert.deepEqual(r.failed, ["node-2"]);
    assert.deepEqual(r.exitCodes, { "node-1": 0, "node-2": 3, "node-3": 0 });
  });

  it("uploads the workdir to every host honouring .gitignore and excludes, with rsync or the tar stream", async () => {
    const methods = await Promise.all(transports.map((t) => (t as SshTransport).method()));
    assert.deepEqual(methods, ["rsync", "rsync", "tar"]);
    assert.notEqual((await transports[2]!.exec("command -v rsync")).exitCode, 0, "node-3 should really have no rsync");

    const named = transports.map((transport, i) => ({ name: `node-${i + 1}`, transport }));
    const up = await parallelUpload(named, work, "work", { exclude: EXCLUDE });
    assert.deepEqual(up.failed, []);
    assert.deepEqual(Object.keys(up.seconds).sort(), ["node-1", "node-2", "node-3"]);
    const missing = await parallelUpload(named.slice(0, 2), join(work, "no-such-dir"), "x");
    assert.deepEqual(
      missing.failed.map((f) => [f.name, f.error instanceof SpotrunError && f.error.kind]),
      [
        ["node-1", "not_found"],
        ["node-2", "not_found"],
      ],
    );
    const local = await checksums(work);
    const expected = new Map(EXPECTED.map((p) => [p, local.get(p)]));
    for (const [i, h] of cluster.hosts.entries()) {
      assert.deepEqual(await checksums(join(h.home, "work")), expected, `node-${i + 1}`);
      const link = await transports[i]!.exec("readlink work/link-to-train.py");
      assert.equal(link.stdout.trim(), "train.py", `node-${i + 1} symlink`);
    }
  });

  it("downloads a results directory and a single file from each host", async () => {
    const dest = await mkdtemp(join(tmpdir(), "spotrun-results-"));
    try {
      for (const [i, t] of transports.entries()) {
        await t.exec(
          `mkdir -p results/sub && head -c 200000 /dev/urandom > results/sub/weights.bin && echo ${i} > results/node.txt`,
        );
        await t.download("results", join(dest, `node-${i + 1}`));
        await t.download("results/node.txt", join(dest, `node-${i + 1}.txt`));
        assert.deepEqual(await checksums(join(dest, `node-${i + 1}`)), await checksums(join(cluster.hosts[i]!.home, "results")));
        assert.equal(await readFile(join(dest, `node-${i + 1}.txt`), "utf8"), `${i}\n`);
      }
      await assert.rejects(
        transports[0]!.download("no/such/dir", join(dest, "x")),
        (e: unknown) => e instanceof SpotrunError && e.kind === "not_found",
      );
    } finally {
      await rm(dest, { recursive: true, force: true });
    }
  });
});
