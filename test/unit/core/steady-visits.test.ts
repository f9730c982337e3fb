import assert from "node:assert/strict";
import { test } from "node:test";
import { heartbeatFrame, helloFrame } from "../../../src/agent/follow-frames.js";
import { FakeClock } from "../../../src/base/clock.js";
import { JobId } from "../../../src/base/ids.js";
import { silentLogger } from "../../../src/base/logger.js";
import { steadyVisitMs } from "../../../src/core/job-reconciler.js";
import { AgentFeeds, beatStalled, FEED_HEARTBEAT_MS } from "../../../src/core/reconcilers/agent-feed.js";
import type { StreamEnd, StreamHandle, StreamOptions, Transport } from "../../../src/transport/transport.js";
import { fakeTask } from "../../support/fake-provider.js";

const JOB1 = JobId("job-1");

const base = { steadyPollMs: 5000, quietPollMs: 30_000, heartbeatTimeoutMs: 60_000 };

test("a steady job with its agent's channel up is visited by the clock only every quiet interval; everything that needs the clock keeps the steady one", () => {
  const plain = fakeTask();
  assert.equal(steadyVisitMs({ ...base, task: plain, channelUp: true }), 30_000, "news wakes it");
  assert.equal(steadyVisitMs({ ...base, task: plain, channelUp: false }), 5000, "no channel: its news would not wake it");
  assert.equal(
    steadyVisitMs({ ...base, task: fakeTask({ budget: { max_cost: 5 } }), channelUp: true }),
    5000,
    "a budget's spend grows with time",
  );
  assert.equal(
    steadyVisitMs({
      ...base,
      task: fakeTask({ recovery: { strategy: "deadline", deadline: "10h", work: "1h" } }),
      channelUp: true,
    }),
    5000,
    "the deadline policy reviews the market every decision interval",
  );
  assert.equal(
    steadyVisitMs({ ...base, task: fakeTask({ num_nodes: 2 }), channelUp: true }),
    5000,
    "a multi-node job's nodes are read for their heartbeats",
  );
  assert.equal(
    steadyVisitMs({ ...base, heartbeatTimeoutMs: 20_000, task: plain, channelUp: true }),
    10_000,
    "at most half the heartbeat timeout",
  );
  assert.equal(
    steadyVisitMs({ ...base, steadyPollMs: 40_000, task: plain, channelUp: true }),
    40_000,
    "never more often than the steady interval",
  );
});

test("a channel heartbeat is news only when the agent's own beat it carries stood still (or is missing)", () => {
  assert.equal(beatStalled(1000, 3000), false, "the agent beat moved on");
  assert.equal(beatStalled(undefined, 3000), false, "the first beat");
  assert.equal(beatStalled(3000, 3000), true, "stood still: the agent may hang");
  assert.equal(beatStalled(3000, undefined), true, "no agent beat");
});

/** One `agent follow` channel the test speaks for. */
class OneStream implements Transport {
  readonly label = "fake:feed";
  readonly home = "/home/x";
  command = "";
  private opts: StreamOptions | undefined;
  private end: (e: StreamEnd) => void = () => {};
  stream(command: string, opts: StreamOptions): StreamHandle {
    this.command = command;
    this.opts = opts;
    const done = new Promise<StreamEnd>((r) => {
      this.end = r;
    });
    const close = async () => {
      this.end({ exitCode: 0, signal: null });
      return done;
    };
    return { done, close };
  }
  say(s: string): void {
    this.opts?.onStdout(Buffer.from(s));
  }
  exit(): void {
    this.end({ exitCode: 255, signal: null, error: new Error("connection reset") });
  }
  exec = async () => assert.fail("no exec");
  readFile = async () => assert.fail("no read");
  writeFile = async () => undefined;
  upload = async () => undefined;
  download = async () => undefined;
  close = async () => undefined;
  stats = () => ({ execs: 0, streams: 1, openStreams: 0 });
}

const turn = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

test("a job's feed says its channel is up only for its attempt while up, beats at the feed's interval, and wakes the job when the agent beat stands still or the channel goes down", async () => {
  const clock = new FakeClock();
  const woken: string[] = [];
  const feeds = new AgentFeeds({ clock, logger: silentLogger, wake: (id) => woken.push(id) });
  const t = new OneStream();
  feeds.open(JOB1, 2, "i-1", t, 0, 0);
  assert.match(t.command, new RegExp(`--heartbeat-ms ${FEED_HEARTBEAT_MS}$`));
  assert.equal(feeds.upFor(JOB1, 2), false, "no hello yet");
  t.say(helloFrame(0, 0));
  await turn();
  assert.equal(feeds.upFor(JOB1, 2), true);
  assert.equal(feeds.upFor(JOB1, 1), false, "another attempt's");
  assert.equal(feeds.upFor(JobId("job-2"), 2), false, "another job's");
  t.say(heartbeatFrame(0, 0, 1000));
  t.say(heartbeatFrame(0, 0, 3000));
  await turn();
  assert.deepEqual(woken, [], "a live agent's beats are no news");
  t.say(heartbeatFrame(0, 0, 3000));
  await turn();
  assert.deepEqual(woken, ["job-1"], "the agent beat stood still");
  t.exit();
  await turn();
  assert.equal(feeds.upFor(JOB1, 2), false, "down");
  assert.deepEqual(woken, ["job-1", "job-1"], "the channel went down");
  await feeds.closeAttempt(JOB1, 2);
  assert.equal(feeds.has("i-1"), false);
  assert.equal(feeds.upFor(JOB1, 2), false);
});
