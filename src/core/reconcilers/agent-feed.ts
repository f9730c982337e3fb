import { AgentEventStream } from "../../agent/event-stream.js";
import { instancePaths } from "../../agent/instance-paths.js";
import type { AgentEvent } from "../../agent/protocol.js";
import type { Clock } from "../../base/clock.js";
import type { JobId } from "../../base/ids.js";
import type { Logger } from "../../base/logger.js";
import type { Transport } from "../../transport/transport.js";

/** What the agent sent and no visit has applied yet, each with the offset after it. */
type Arrival = { kind: "events"; events: AgentEvent[]; offset: number } | { kind: "log"; bytes: Buffer; offset: number };
export type FeedItem = Arrival & { done: () => void };

interface Feed {
  jobId: JobId;
  attempt: number;
  stream: AgentEventStream;
  pending: FeedItem[];
  /** When the agent last spoke on the channel (a heartbeat or data), on the controller's clock. */
  heardAt: number | undefined;
  /** The agent's own heartbeat as the channel last carried it (the instance's clock). */
  agentBeat: number | undefined;
  /** Whether a channel is up now (its hello came, and it has not gone down since). */
  up: boolean;
  /** Since when no channel has been up (the feed's opening, or the last channel's end). */
  downSince: number;
}

/**
 * Whether a job's channel is a reason to look at its instance closely (a quick describe): only
 * once no channel has been up for `ms`. A channel that is up but quiet (a controller too busy to
 * read its frames in time) is the stream's own watchdog's to judge: it re-opens it, and until it
 * goes down the instance is taken as there — the cloud API is not asked about it. Pure.
 */
export function channelLooksLost(o: { up: boolean; downSince: number; now: number; ms: number }): boolean {
  return !o.up && o.now - o.downSince >= o.ms;
}

/**
 * Whether a channel heartbeat is news for the job: the agent's own heartbeat it carries did not
 * move since the last one (or there is none). A live agent rewrites it every 2 s, faster than the
 * channel's beat, so a beat that stands still is an agent that may have hung: its job is woken to
 * judge it (health.ts) as often as the channel beats, although a quiet job is visited seldom. Pure.
 */
export function beatStalled(previous: number | undefined, carried: number | undefined): boolean {
  return carried === undefined || carried === previous;
}

/**
 * The channel's own heartbeat: 5 s (the stream's default is 2 s). At 10,000 channels every frame
 * costs the controller's one thread; the stream's watchdog (20 s here) still sees four beats.
 */
export const FEED_HEARTBEAT_MS = 5000;

/**
 * One long-lived `agent follow` channel per instance, opened from the offsets the store has
 * acknowledged. What arrives is kept until the job's next visit applies it (a visit is the only
 * writer of a job), and the job is woken for it. A delivery is acknowledged only once applied,
 * and the stream waits for that before the next one, so nothing is lost or applied twice across a
 * dropped channel. Steady state costs no exec per job.
 */
export class AgentFeeds {
  private readonly feeds = new Map<string, Feed>();
  /** Each job's feeds, by instance id. */
  private readonly byJob = new Map<JobId, Set<string>>();

  constructor(private readonly o: { clock: Clock; logger: Logger; wake: (jobId: JobId) => void; heartbeatTimeoutMs?: number }) {}

  /** The feed of this instance's agent, opened if need be from the offsets the store holds. */
  open(jobId: JobId, attempt: number, instanceId: string, t: Transport, eventsOffset: number, logOffset: number): void {
    if (this.feeds.has(instanceId)) return;
    const feed: Feed = {
      jobId,
      attempt,
      pending: [],
      heardAt: undefined,
      agentBeat: undefined,
      up: false,
      downSince: this.o.clock.now(),
      stream: undefined as unknown as AgentEventStream,
    };
    // Events wait for their visit before the next delivery (their ack is the store's offset); log
    // bytes do not (a visit cuts what the store already has off a repeated chunk, so a re-opened
    // channel cannot double them), or a chatty run would be read at one chunk per visit.
    const arrive = (item: Arrival) =>
      new Promise<void>((done) => {
        feed.heardAt = this.o.clock.now();
        feed.pending.push({ ...item, done });
        this.o.wake(jobId);
        if (item.kind === "log") done();
      });
    feed.stream = new AgentEventStream({
      transport: t,
      launcher: instancePaths(t.home).launcher,
      eventsOffset,
      logOffset,
      clock: this.o.clock,
      // A loaded controller starting many channels at once must not take slow starts for dead links.
      heartbeatTimeoutMs: this.o.heartbeatTimeoutMs ?? 20_000,
      heartbeatMs: FEED_HEARTBEAT_MS,
      onEvents: (events, offset) => arrive({ kind: "events", events, offset }),
      onLog: (bytes, offset) => arrive({ kind: "log", bytes, offset }),
      onHeartbeat: (hb) => {
        const stalled = beatStalled(feed.agentBeat, hb.agentBeat);
        feed.heardAt = hb.at;
        if (hb.agentBeat !== undefined) feed.agentBeat = hb.agentBeat;
        if (stalled) this.o.wake(jobId);
      },
      onChannel: (c) => {
        if (c.kind === "up") feed.up = true;
        else if (feed.up) {
          feed.up = false;
          feed.downSince = this.o.clock.now();
        }
        if (c.kind === "down")
          this.o.logger.debug(
            { job: jobId, instance: instanceId, reason: c.reason },
            `agent channel down; retrying in ${c.retryInMs} ms`,
          );
        // A channel that cannot be kept up is news too: the visit looks at the instance closely.
        if (c.kind === "down") this.o.wake(jobId);
      },
      onProtocolError: (reason) => this.o.logger.warn({ job: jobId, instance: instanceId }, `agent channel: ${reason}`),
    });
    this.feeds.set(instanceId, feed);
    const ofJob = this.byJob.get(jobId) ?? new Set<string>();
    ofJob.add(instanceId);
    this.byJob.set(jobId, ofJob);
    feed.stream.start();
  }

  has(instanceId: string): boolean {
    return this.feeds.has(instanceId);
  }

  /** Everything waiting for this instance, in order; the caller applies it, then `applied`. */
  take(instanceId: string): FeedItem[] {
    const feed = this.feeds.get(instanceId);
    if (!feed) return [];
    return feed.pending.splice(0);
  }

  /** The items were applied up to these offsets: acknowledge them and let the stream go on. */
  applied(instanceId: string, items: FeedItem[], eventsOffset: number, logOffset: number): void {
    this.feeds.get(instanceId)?.stream.ack(eventsOffset, logOffset);
    for (const i of items) i.done();
  }

  /** Applying failed: keep them for the next visit. */
  restore(instanceId: string, items: FeedItem[]): void {
    this.feeds.get(instanceId)?.pending.unshift(...items);
  }

  /**
   * Whether a channel to this attempt's agent is up now: then its news (events, a stalled beat, the
   * channel going down) wakes the job, and the job need not be visited by the clock to hear it.
   */
  upFor(jobId: JobId, attempt: number): boolean {
    for (const id of this.byJob.get(jobId) ?? []) {
      const feed = this.feeds.get(id);
      if (feed?.attempt === attempt && feed.up) return true;
    }
    return false;
  }

  /** When the agent last spoke on the channel, if it has one. */
  heardAt(instanceId: string): number | undefined {
    return this.feeds.get(instanceId)?.heardAt;
  }

  /** The agent's own heartbeat as the channel last carried it, if it has. */
  agentBeat(instanceId: string): number | undefined {
    return this.feeds.get(instanceId)?.agentBeat;
  }

  /** Whether no channel to this agent has been up for `ms` (see channelLooksLost). */
  lost(instanceId: string, now: number, ms: number): boolean {
    const feed = this.feeds.get(instanceId);
    return feed === undefined || channelLooksLost({ up: feed.up, downSince: feed.downSince, now, ms });
  }

  async close(instanceId: string): Promise<void> {
    const feed = this.feeds.get(instanceId);
    if (!feed) return;
    this.feeds.delete(instanceId);
    const ofJob = this.byJob.get(feed.jobId);
    ofJob?.delete(instanceId);
    if (ofJob?.size === 0) this.byJob.delete(feed.jobId);
    // Release a delivery that waits on us, so the stream can end.
    for (const i of feed.pending) i.done();
    await feed.stream.close().catch(() => {});
  }

  async closeAttempt(jobId: JobId, attempt: number): Promise<void> {
    const ids = [...(this.byJob.get(jobId) ?? [])].filter((id) => this.feeds.get(id)?.attempt === attempt);
    await Promise.all(ids.map((id) => this.close(id)));
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.feeds.keys()].map((id) => this.close(id)));
  }
}
