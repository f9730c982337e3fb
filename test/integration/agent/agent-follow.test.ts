import assert from "node:assert/strict";
import { appendFileSync, mkdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type FollowFrame, FrameDecoder } from "../../../src/agent/follow-frames.js";
import { singleQuote as shq } from "../../../src/base/shell-quote.js";
import { LocalTransport } from "../../../src/transport/local/local-transport.js";
import { connectSsh } from "../../../src/transport/ssh/connect.js";
import type { StreamHandle, Transport } from "../../../src/transport/transport.js";
import { installAgent, parentOf, processesWith, sleep, waitFor } from "../../support/follow-kit.js";
import { type SshCluster, startSshCluster } from "../../support/ssh-cluster.js";

/**
 * `spotrun agent follow` from the shipped artifact, over a real channel: the local transport's
 * process and a real sshd's session. What a controller would read is checked byte for byte
 * against the files the test wrote.
 */
interface Follow {
  frames: FollowFrame[];
  handle: StreamHandle;
  stderr: () => string;
  of<K extends FollowFrame["kind"]>(kind: K): Extract<FollowFrame, { kind: K }>[];
}

function openFollow(t: Transport, launcher: string, dir: string, evOff = 0, logOff = 0, hbMs = 300): Follow {
  const frames: FollowFrame[] = [];
  const dec = new FrameDecoder();
  let err = "";
  const handle = t.stream(
    `exec ${shq(launcher)} agent follow --events-offset ${evOff} --log-offset ${logOff} --dir ${shq(dir)} --heartbeat-ms ${hbMs}`,
    {
      onStdout: (b) => frames.push(...dec.push(b)),
      onStderr: (b) => {
        err += b.toString();
      },
    },
  );
  return {
    frames,
    handle,
    stderr: () => err,
    of: <K extends FollowFrame["kind"]>(kind: K) => frames.filter((f): f is Extract<FollowFrame, { kind: K }> => f.kind === kind),
  };
}

const event = (i: number) => `${JSON.stringify({ at: 1_700_000_000_000 + i, kind: "warning", message: `event ${i}` })}\n`;
const concat = (fs: { bytes: Buffer }[]) => Buffer.concat(fs.map((f) => f.bytes));

for (const kind of ["local", "ssh"] as const) {
  describe(`agent follow over the ${kind} transport`, () => {
    let root: string;
    let cluster: SshCluster | undefined;
    let t: Transport;
    let launcher: string;
    let n = 0;
    /** A fresh agent directory per test, named so its follow can be found among the machine's processes. */
    const freshDir = () => join(t.home, `agent-${process.pid}-${++n}`);

    before(async () => {
      root = await mkdtemp(join(tmpdir(), `spotrun-follow-${kind}-`));
      if (kind === "local") {
        t = new LocalTransport("local:follow", join(root, "home"), {});
        mkdirSync(t.home, { recursive: true });
      } else {
        cluster = await startSshCluster({ n: 1, name: "follow", firstIndex: 101 });
        t = await connectSsh(cluster.target(0), { keepaliveMs: 1000 });
      }
      launcher = await installAgent(t, `i-follow-${kind}`);
    });
    after(async () => {
      await t?.close();
      await cluster?.stop();
      await rm(root, { recursive: true, force: true });
    });

    it("waits for files that are not there yet, then sends whole event lines only and a heartbeat when idle", async () => {
      const dir = freshDir();
      const f = openFollow(t, launcher, dir);
      assert.ok(await waitFor(() => f.of("hb").length > 0, 5000), `no heartbeat; stderr: ${f.stderr()}`);
      assert.deepEqual(f.frames[0], { kind: "hello", version: 1, eventsOffset: 0, logOffset: 0 });
      assert.deepEqual(f.of("hb")[0], { kind: "hb", eventsSize: -1, logSize: -1 });

      mkdirSync(dir);
      const first = event(1);
      const second = event(2);
      appendFileSync(join(dir, "events.jsonl"), first + second.slice(0, 20));
      assert.ok(await waitFor(() => f.of("ev").length === 1, 2000));
      assert.equal(f.of("ev")[0]?.offset, 0);
      assert.equal(f.of("ev")[0]?.bytes.toString(), first);
      // The torn line stays back through several polls and heartbeats…
      await sleep(700);
      assert.equal(f.of("ev").length, 1);
      const hb = f.of("hb").at(-1);
      assert.deepEqual(hb, { kind: "hb", eventsSize: first.length + 20, logSize: -1 });
      // …and goes once its newline is there, from where the first ended.
      appendFileSync(join(dir, "events.jsonl"), second.slice(20));
      assert.ok(await waitFor(() => f.of("ev").length === 2, 2000));
      assert.deepEqual(
        f.of("ev").map((e) => [e.offset, e.bytes.toString()]),
        [
          [0, first],
          [first.length, second],
        ],
      );
      const end = await f.handle.close();
      assert.equal(end.exitCode, 0, `follow left with ${JSON.stringify(end)}; stderr: ${f.stderr()}`);
    });

    it("200 events, each after its log line, arrive in order with exact offsets, on one channel and no exec", async () => {
      const dir = freshDir();
      mkdirSync(dir);
      // A history before the offsets the controller holds: follow starts exactly there.
      const oldEv = event(0);
      const oldLog = "before the offset\n";
      appendFileSync(join(dir, "events.jsonl"), oldEv);
      appendFileSync(join(dir, "run.log"), oldLog);
      const before = t.stats();
      const f = openFollow(t, launcher, dir, oldEv.length, oldLog.length);
      assert.ok(await waitFor(() => f.frames.length > 0, 5000));
      for (let i = 1; i <= 200; i++) {
        appendFileSync(join(dir, "run.log"), `step ${i}: ${"x".repeat(i % 37)}\n`);
        appendFileSync(join(dir, "events.jsonl"), event(i));
        if (i % 25 === 0) await sleep(5);
      }
      const evFile = readFileSync(join(dir, "events.jsonl"));
      const logFile = readFileSync(join(dir, "run.log"));
      assert.ok(
        await waitFor(() => concat(f.of("ev")).length === evFile.length - oldEv.length, 5000),
        `got ${concat(f.of("ev")).length} event bytes`,
      );
      await waitFor(() => concat(f.of("log")).length === logFile.length - oldLog.length, 2000);
      assert.deepEqual(concat(f.of("ev")), evFile.subarray(oldEv.length));
      assert.deepEqual(concat(f.of("log")), logFile.subarray(oldLog.length));
      // Offsets are contiguous from where we asked.
      for (const [k, start] of [
        ["ev", oldEv.length],
        ["log", oldLog.length],
      ] as const) {
        let at = start;
        for (const fr of f.of(k)) {
          assert.equal(fr.offset, at);
          at += fr.bytes.length;
        }
      }
      // Every event frame comes after the log frame holding the lines written before its events.
      let logSeen = oldLog.length;
      for (const fr of f.frames) {
        if (fr.kind === "log") logSeen = fr.offset + fr.bytes.length;
        if (fr.kind !== "ev") continue;
        const lines = fr.bytes.toString().trim().split("\n");
        const last = (JSON.parse(lines.at(-1) as string) as { message: string }).message.split(" ")[1];
        const needed = logFile.indexOf(`step ${last}: `) + `step ${last}: `.length;
        assert.ok(logSeen >= needed, `event ${last} came before its log line (log at ${logSeen}, needs ${needed})`);
      }
      const during = t.stats();
      assert.equal(during.execs, before.execs, "following costs no exec");
      assert.equal(during.streams, before.streams + 1);
      assert.equal(during.openStreams, 1);
      await f.handle.close();
      assert.equal(t.stats().openStreams, 0);
    });

    it("leaves the host when its channel closes: no follow process stays behind", async () => {
      const dir = freshDir();
      const f = openFollow(t, launcher, dir);
      assert.ok(await waitFor(() => f.frames.length > 0, 5000));
      assert.equal(processesWith(["follow", dir]).length, 1);
      const t0 = Date.now();
      const end = await f.handle.close();
      assert.equal(end.exitCode, 0);
      assert.ok(await waitFor(() => processesWith(["follow", dir]).length === 0, 3000), "a follow is still running");
      // It left at its stdin's EOF, well inside the grace before its group would be killed.
      assert.ok(Date.now() - t0 < 1500, `close took ${Date.now() - t0} ms`);
    });

    if (kind === "ssh")
      it("leaves the host when the SSH connection dies under it (its sshd session process killed)", async () => {
        const dir = freshDir();
        const f = openFollow(t, launcher, dir);
        assert.ok(await waitFor(() => f.frames.length > 0, 5000));
        const [pid] = processesWith(["follow", dir]);
        assert.ok(pid);
        const session = parentOf(pid);
        assert.match(readFileSync(`/proc/${session}/cmdline`, "utf8"), /sshd/);
        process.kill(session, "SIGKILL");
        const end = await f.handle.done;
        assert.ok(end.error || end.exitCode === null, JSON.stringify(end));
        assert.ok(await waitFor(() => processesWith(["follow", dir]).length === 0, 3000), "follow outlived its channel");
        // The transport connects again for the next command.
        assert.equal((await t.exec("echo back")).stdout, "back\n");
      });
  });
}
