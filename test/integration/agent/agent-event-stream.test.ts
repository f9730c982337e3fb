import assert from "node:assert/strict";
import { appendFileSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { AgentEventStream, type AgentEventStreamOptions, type ChannelChange } from "../../../src/agent/event-stream.js";
import type { AgentEvent } from "../../../src/agent/protocol.js";
import { LocalTransport } from "../../../src/transport/local/local-transport.js";
import { connectSsh } from "../../../src/transport/ssh/connect.js";
import type { Transport } from "../../../src/transport/transport.js";
import { ScaledClock } from "../../support/clocks.js";
import { installAgent, parentOf, processesWith, sleep, waitFor } from "../../support/follow-kit.js";
import { type SshCluster, startSshCluster } from "../../support/ssh-cluster.js";

/**
 * The controller's client of `agent follow` against the shipped artifact on a real channel (the
 * local transport's process, a real sshd): what it hands over is compared with the files the test
 * wrote, byte for byte, across channels killed, connections killed and links that drop packets.
 */
interface Run {
  s: AgentEventStream;
  events: (AgentEvent & { message?: string })[];
  eventsAt: number[];
  log: Buffer[];
  offsets: { events: number; log: number };
  channel: ChannelChange[];
  errors: string[];
}

function follow(t: Transport, launcher: string, dir: string, over: Partial<AgentEventStreamOptions> = {}): Run {
  const run: Run = {
    s: undefined as unknown as AgentEventStream,
    events: [],
    eventsAt: [],
    log: [],
    offsets: { events: 0, log: 0 },
    channel: [],
    errors: [],
  };
  run.s = new AgentEventStream({
    transport: t,
    launcher,
    dir,
    eventsOffset: 0,
    logOffset: 0,
    heartbeatMs: 300,
    heartbeatTimeoutMs: 4000,
    backoffBaseMs: 100,
    backoffCapMs: 1000,
    // As the controller will: make it durable, then acknowledge, before the callback returns.
    onEvents: (events, offset) => {
      const now = Date.now();
      for (const e of events) {
        run.events.push(e);
        run.eventsAt.push(now);
      }
      run.offsets.events = offset;
      run.s.ack(run.offsets.events, run.offsets.log);
    },
    onLog: (bytes, offset) => {
      run.log.push(bytes);
      run.offsets.log = offset;
      run.s.ack(run.offsets.events, run.offsets.log);
    },
    onChannel: (c) => run.channel.push(c),
    onProtocolError: (e) => run.errors.push(e),
    ...over,
  });
  run.s.start();
  return run;
}

const event = (i: number, at = 1_700_000_000_000 + i) => `${JSON.stringify({ at, kind: "warning", message: `event ${i}` })}\n`;
const indexOf = (e: { message?: string }) => Number(e.message?.split(" ")[1]);
/** The offsets in events.jsonl and run.log at which the writer's event k and its line start. */
const bytesBefore = (k: number): [number, number] => [
  range(1, k - 1).reduce((n, i) => n + event(i).length, 0),
  range(1, k - 1).reduce((n, i) => n + `line ${i}\n`.length, 0),
];
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

/** Appends event i and a log line for it every `everyMs`, from `from` to `to`, while the test does other things. */
async function writer(dir: string, from: number, to: number, everyMs: number): Promise<void> {
  for (let i = from; i <= to; i++) {
    appendFileSync(join(dir, "run.log"), `line ${i}\n`);
    appendFileSync(join(dir, "events.jsonl"), event(i));
    await sleep(everyMs);
  }
}

/** Every event exactly once and in order, the log byte for byte, the offsets at the files' ends. */
async function assertWhole(run: Run, dir: string, n: number): Promise<void> {
  const evSize = statSync(join(dir, "events.jsonl")).size;
  const logFile = readFileSync(join(dir, "run.log"));
  assert.ok(
    await waitFor(() => run.offsets.events === evSize && run.offsets.log === logFile.length, 10_000),
    JSON.stringify(run.offsets),
  );
  assert.deepEqual(run.events.map(indexOf), range(1, n));
  assert.deepEqual(Buffer.concat(run.log), logFile);
}

for (const kind of ["local", "ssh"] as const) {
  describe(`AgentEventStream over the ${kind} transport`, () => {
    let root: string;
    let cluster: SshCluster | undefined;
    let t: Transport;
    let launcher: string;
    let n = 0;
    const runs: Run[] = [];
    const freshDir = () => {
      const d = join(t.home, `agent-${process.pid}-${++n}`);
      mkdirSync(d);
      return d;
    };

    before(async () => {
      root = await mkdtemp(join(tmpdir(), `spotrun-evstream-${kind}-`));
      if (kind === "local") {
        t = new LocalTransport("local:evstream", join(root, "home"), {});
        mkdirSync(t.home, { recursive: true });
      } else {
        cluster = await startSshCluster({ n: 1, name: "evstream", firstIndex: 104 });
        // Session reconnects (2, 4, 8, 16 s in production) run 20x faster here.
        t = await connectSsh(cluster.target(0), { keepaliveMs: 1000, clock: new ScaledClock(20) });
      }
      launcher = await installAgent(t, `i-evstream-${kind}`);
    });
    after(async () => {
      await Promise.all(runs.map((r) => r.s.close()));
      await t?.close();
      await cluster?.stop();
      await rm(root, { recursive: true, force: true });
    });

    it("an event appended to the file reaches the callback within 200 ms", async () => {
      const dir = freshDir();
      const run = follow(t, launcher, dir);
      runs.push(run);
      assert.ok(await waitFor(() => run.channel.some((c) => c.kind === "up"), 5000));
      const lat: number[] = [];
      for (let i = 1; i <= 20; i++) {
        const at = Date.now();
        appendFileSync(join(dir, "events.jsonl"), event(i, at));
        assert.ok(await waitFor(() => run.events.length === i, 2000), `event ${i} never came`);
        lat.push((run.eventsAt[i - 1] as number) - at);
        await sleep(30);
      }
      lat.sort((a, b) => a - b);
      const p50 = lat[10] as number;
      const max = lat.at(-1) as number;
      process.stderr.write(`# ${kind}: append → callback p50 ${p50} ms, max ${max} ms over ${lat.length}\n`);
      assert.ok(max <= 200, `slowest ${max} ms (${lat.join(", ")})`);
      await run.s.close();
    });

    it("200 events and their log lines arrive in order with exact offsets, over one channel and no exec", async () => {
      const dir = freshDir();
      const before = t.stats();
      const run = follow(t, launcher, dir);
      runs.push(run);
      await writer(dir, 1, 200, 1);
      await assertWhole(run, dir, 200);
      // Each event came after the log line written before it.
      const logText = Buffer.concat(run.log).toString();
      for (const e of run.events) assert.ok(logText.includes(`line ${indexOf(e)}\n`));
      const after = t.stats();
      assert.equal(after.execs, before.execs, "no exec while following");
      assert.equal(after.streams, before.streams + 1, "one channel for the whole run");
      assert.equal(run.s.position().opens, 1);
      assert.equal(run.channel.filter((c) => c.kind === "down").length, 0);
      await run.s.close();
    });

    it("a killed follow is re-opened from the acked offsets: no event twice, none missing", async () => {
      const dir = freshDir();
      const run = follow(t, launcher, dir);
      runs.push(run);
      // Killed twice, each time with events written while it was down and after it was back.
      await writer(dir, 1, 40, 2);
      for (const [upTo, next] of [
        [40, 100],
        [100, 150],
      ] as const) {
        assert.ok(await waitFor(() => run.events.length === upTo, 10_000), `${run.events.length} of ${upTo}`);
        const [pid] = processesWith(["follow", dir]);
        assert.ok(pid, "follow is running");
        const ups = run.channel.filter((c) => c.kind === "up").length;
        process.kill(pid, "SIGKILL");
        await writer(dir, upTo + 1, next, 2);
        assert.ok(await waitFor(() => run.channel.filter((c) => c.kind === "up").length === ups + 1, 5000));
      }
      await assertWhole(run, dir, 150);
      const downs = run.channel.filter((c) => c.kind === "down");
      assert.equal(downs.length, 2);
      for (const d of downs) assert.match(d.kind === "down" ? d.reason : "", /killed \((SIG)?KILL\)/);
      // Each new channel started exactly where the callbacks had acknowledged.
      const ups = run.channel.flatMap((u) => (u.kind === "up" ? [[u.eventsOffset, u.logOffset]] : []));
      assert.deepEqual(ups, [[0, 0], bytesBefore(41), bytesBefore(101)]);
      assert.deepEqual(run.errors, []);
      await run.s.close();
      assert.ok(await waitFor(() => processesWith(["follow", dir]).length === 0, 3000), "a follow stayed on the host");
    });

    if (kind === "ssh") {
      it("a killed SSH connection (its sshd session process) is made again and the stream resumes with nothing lost", async () => {
        const dir = freshDir();
        const run = follow(t, launcher, dir);
        runs.push(run);
        await writer(dir, 1, 50, 2);
        assert.ok(await waitFor(() => run.events.length === 50, 10_000));
        const [pid] = processesWith(["follow", dir]);
        assert.ok(pid);
        const session = parentOf(pid);
        assert.match(readFileSync(`/proc/${session}/cmdline`, "utf8"), /^sshd/);
        process.kill(session, "SIGKILL");
        await writer(dir, 51, 120, 2);
        await assertWhole(run, dir, 120);
        const [up1, down, up2] = run.channel;
        assert.equal(down?.kind === "down" && down.reason, "lost the SSH connection to node-1 during a stream");
        assert.deepEqual([up1?.kind, up2?.kind, run.channel.length], ["up", "up", 3]);
        assert.ok(
          await waitFor(() => processesWith(["follow", dir]).length === 1, 3000),
          "the old follow left, the new one runs",
        );
        await run.s.close();
      });

      it("a link that silently drops packets is noticed by the missing heartbeats, and the stream resumes when it is back", async () => {
        // A long SSH keepalive, so only the stream's own heartbeat timeout can notice.
        const slow = await connectSsh(cluster!.target(0), { keepaliveMs: 60_000 });
        try {
          const dir = freshDir();
          const run = follow(slow, launcher, dir, { heartbeatTimeoutMs: 1500 });
          runs.push(run);
          await writer(dir, 1, 30, 2);
          assert.ok(await waitFor(() => run.events.length === 30, 10_000));
          await cluster!.hosts[0]!.cut();
          const cutAt = Date.now();
          await writer(dir, 31, 60, 2);
          assert.ok(await waitFor(() => run.channel.some((c) => c.kind === "down"), 5000));
          const noticed = Date.now() - cutAt;
          const down = run.channel.find((c) => c.kind === "down");
          assert.equal(down?.kind === "down" && down.reason, "no frame for 1500 ms");
          assert.ok(noticed >= 1000 && noticed < 3000, `noticed after ${noticed} ms`);
          await writer(dir, 61, 80, 2);
          await cluster!.hosts[0]!.restore();
          await writer(dir, 81, 100, 2);
          await assertWhole(run, dir, 100);
          await run.s.close();
          // The follows of the channels given up on saw their EOF once the link was back.
          assert.ok(await waitFor(() => processesWith(["follow", dir]).length === 0, 5000), "a follow stayed on the host");
        } finally {
          await cluster!.hosts[0]!.restore();
          await slow.close();
        }
      });
    }

    it("close() leaves no follow on the host and no channel open", async () => {
      const dir = freshDir();
      const run = follow(t, launcher, dir);
      assert.ok(await waitFor(() => run.channel.some((c) => c.kind === "up"), 5000));
      assert.equal(processesWith(["follow", dir]).length, 1);
      await run.s.close();
      assert.ok(await waitFor(() => processesWith(["follow", dir]).length === 0, 3000));
      assert.equal(t.stats().openStreams, 0);
    });
  });
}
