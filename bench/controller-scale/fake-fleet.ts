import { posix } from "node:path";
import { dataFrame, FRAME_BYTES, heartbeatFrame, helloFrame } from "../../src/agent/follow-frames.js";
import { type AgentEvent, agentPaths } from "../../src/agent/protocol.js";
import { PROBED_TOOLS } from "../../src/bootstrap/probe-instance.js";
import type { InstanceInfo } from "../../src/providers/provider.js";
import type {
  ExecOptions,
  ExecResult,
  StreamEnd,
  StreamHandle,
  StreamOptions,
  SyncOptions,
  Transport,
  TransportStats,
} from "../../src/transport/transport.js";

/**
 * The machines of bench/controller-scale without machines: one in-memory instance per EC2
 * instance id, whose files the controller reaches through a Transport that counts what an SSH
 * transport would cost (a channel per exec and per file read or write). Each instance answers
 * bootstrap like an image with Node and this agent already installed, and once the controller
 * starts its agent, a fake agent appends what a real one would: agent_started, restored,
 * run_started, then a checkpoint now and then, and a notice when the bench injects one. As the
 * real agent does, a noticed agent then saves and exits (checkpoint, agent_exit preempted) a
 * moment later, and a warm replacement's agent (wait_for_go) sets up, waits for the controller's
 * go, and only then restores and runs — so a notice costs the whole recovery it would on EC2. The
 * heartbeat is read as "now" while the agent lives, so no timer runs per instance.
 */

/** Who asked: bootstrap (before and including the exec that starts the agent) or steady state (after). */
export type Phase = "bootstrap" | "steady";

export class TransportCounts {
  execs: Record<Phase, number> = { bootstrap: 0, steady: 0 };
  reads: Record<Phase, number> = { bootstrap: 0, steady: 0 };
  writes: Record<Phase, number> = { bootstrap: 0, steady: 0 };
  /** Uploads and downloads (each one or more channels over SSH; counted as one). */
  transfers = 0;
  /** Long-lived channels (a follow of the agent's files), opened and open now. */
  streamsOpened = 0;
  streamsOpen = 0;
  /** Every channel an SSH transport would open: one per exec, read, write, transfer and stream. */
  channelsOpened = 0;
  /** Channels open at this moment (short ones in flight plus the long-lived), and the most since the last `takeMax`. */
  channelsOpen = 0;
  private maxSince = 0;
  transportsOpened = 0;
  transportsClosed = 0;

  open(): void {
    this.channelsOpened++;
    this.channelsOpen++;
    if (this.channelsOpen > this.maxSince) this.maxSince = this.channelsOpen;
  }
  close(): void {
    this.channelsOpen--;
  }
  /** The most channels open at once since the last call. */
  takeMax(): number {
    const m = this.maxSince;
    this.maxSince = this.channelsOpen;
    return m;
  }
  snapshot() {
    return {
      execs: { ...this.execs },
      reads: { ...this.reads },
      writes: { ...this.writes },
      transfers: this.transfers,
      streamsOpened: this.streamsOpened,
      streamsOpen: this.streamsOpen,
      channelsOpened: this.channelsOpened,
      channelsOpen: this.channelsOpen,
      transportsOpen: this.transportsOpened - this.transportsClosed,
      transportsOpened: this.transportsOpened,
    };
  }
}
export type CountsSnapshot = ReturnType<TransportCounts["snapshot"]>;

/** An append-only file the fake agent writes; ASCII only, so string offsets are byte offsets. */
class AppendFile {
  text = "";
  exists = false;
  private readonly listeners = new Set<() => void>();
  append(s: string): void {
    this.exists = true;
    this.text += s;
    for (const l of this.listeners) l();
  }
  /** Called after each append until the returned function is called. */
  watch(l: () => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
}

const AGENT = agentPaths();

export class FakeInstance {
  readonly events = new AppendFile();
  readonly log = new AppendFile();
  private readonly files = new Map<string, Buffer>();
  jobId: string | undefined;
  agentRunning = false;
  /** The exec that starts the agent has run: what the controller asks from here on is steady state. */
  agentStarted = false;
  /** A warm replacement's agent, set up and waiting for the go. */
  waitingForGo = false;
  private waitForGo = false;
  /** A noticed agent saves and exits at this time. */
  exitAt = Number.POSITIVE_INFINITY;
  private checkpointEveryMs = 60_000;
  /** When the next checkpoint event is due (ms), while the agent runs. */
  nextCheckpointAt = Number.POSITIVE_INFINITY;
  noticed = false;
  private checkpoints = 0;

  constructor(
    readonly id: string,
    readonly home: string,
  ) {}

  /** Paths as the controller gives them (relative to the home, or absolute under it). */
  key(path: string): string {
    const p = posix.normalize(path);
    return p.startsWith(`${this.home}/`) ? p.slice(this.home.length + 1) : p.replace(/^\.\//, "");
  }

  read(path: string, offset: number): Buffer | undefined {
    const k = this.key(path);
    if (k === AGENT.events) return Buffer.from(this.events.text.slice(offset), "latin1");
    if (k === AGENT.log) return Buffer.from(this.log.text.slice(offset), "latin1");
    // The real agent rewrites its heartbeat every 2 s; a running fake agent's is always fresh.
    if (k === AGENT.heartbeat) return this.agentAlive ? Buffer.from(String(Date.now())) : undefined;
    return this.files.get(k)?.subarray(offset);
  }

  /** Its agent has started and not exited (waiting for the go counts). */
  get agentAlive(): boolean {
    return this.agentRunning || this.waitingForGo;
  }

  /** Returns "go" when a waiting replacement was told to go (the fleet then counts it as the job's). */
  write(path: string, data: string | Uint8Array): "go" | undefined {
    const k = this.key(path);
    this.files.set(k, Buffer.from(data));
    if (k === AGENT.config) {
      const cfg = JSON.parse(Buffer.from(data).toString("utf8")) as { job_id?: string; wait_for_go?: boolean };
      this.jobId = cfg.job_id;
      this.waitForGo = cfg.wait_for_go === true;
    }
    if (k === AGENT.control) {
      const req = JSON.parse(Buffer.from(data).toString("utf8")) as { action?: string };
      if (req.action === "go" && this.waitingForGo) {
        const now = Date.now();
        this.waitingForGo = false;
        this.emit({ at: now, kind: "go", waited_ms: 1 });
        this.run(now, 1);
        return "go";
      }
      // The controller's stop (its replacement is ready): the save path, as for a notice.
      if (req.action === "checkpoint-and-stop" && this.agentRunning && this.exitAt === Number.POSITIVE_INFINITY)
        this.exitAt = Date.now() + 500;
    }
    return undefined;
  }

  emit(e: AgentEvent): void {
    this.events.append(`${JSON.stringify(e)}\n`);
  }

  /** What `spotrun agent run` does first: it starts, finds no checkpoint to restore, starts the run. */
  startAgent(now: number, checkpointEveryMs: number, phase: number): void {
    if (this.agentStarted) return;
    this.agentStarted = true;
    this.checkpointEveryMs = checkpointEveryMs;
    this.emit({ at: now, kind: "agent_started", pid: 4242 });
    if (this.waitForGo) {
      // A warm replacement: no setup to run here; it waits.
      this.waitingForGo = true;
      this.emit({ at: now, kind: "waiting_for_go" });
      return;
    }
    this.run(now, phase);
  }

  private run(now: number, phase: number): void {
    this.agentRunning = true;
    this.emit({ at: now, kind: "restored", generation: null, ms: 3 });
    this.emit({ at: now, kind: "run_started", restart: false, pid: 4243 });
    this.log.append(`[bench] ${this.id} started\n`);
    this.nextCheckpointAt = now + phase * this.checkpointEveryMs;
  }

  /** The save path after a notice or the controller's stop: a last checkpoint, then the agent's exit. */
  saveAndExit(now: number, generation: string): void {
    this.exitAt = Number.POSITIVE_INFINITY;
    this.emit({ at: now, kind: "hook_ran", outcome: "none", exit_code: null, ms: 0 });
    this.emit({
      at: now,
      kind: "checkpoint_uploaded",
      generation,
      bytes: 64 * 1024 * 1024,
      files: 3,
      ms: 900,
      reason: this.noticed ? "notice" : "stop",
    });
    this.emit({ at: now, kind: "agent_exit", outcome: this.noticed ? "preempted" : "stopped", generation });
    this.agentRunning = false;
    this.nextCheckpointAt = Number.POSITIVE_INFINITY;
  }

  /** A trainer's periodic checkpoint: one event and one log line; returns the generation written. */
  checkpoint(now: number, generation: string, checkpointEveryMs: number): void {
    this.checkpoints++;
    this.log.append(`step ${this.checkpoints * 100} loss 0.${1000 - (this.checkpoints % 1000)}\n`);
    this.emit({
      at: now,
      kind: "checkpoint_uploaded",
      generation,
      bytes: 64 * 1024 * 1024,
      files: 3,
      ms: 900,
      reason: "periodic",
    });
    this.nextCheckpointAt = now + checkpointEveryMs;
  }

  /** What the agent's IMDS watcher writes when a spot notice appears (a reclaim two minutes on). */
  notice(now: number): void {
    this.noticed = true;
    this.emit({ at: now, kind: "notice", action: "terminate", time: now + 120_000, source: "aws-imds", seen_at: now });
    // The real agent runs the hook, stops the trainer and uploads at once (no hook here: a moment).
    this.exitAt = now + 2000;
  }
}

/** The probe's answers for an Ubuntu image with Node 22 and this agent already in place. */
function probeAnswer(home: string, command: string): string {
  const sha = /\/\.spotrun\/agent\/([0-9a-f]{64})\.mjs/.exec(command)?.[1];
  return [
    "machine=x86_64",
    "libc=glibc 2.39",
    ...PROBED_TOOLS.map((t) => `tool=${t}`),
    `cached_node=${home}/.spotrun/node/${process.version}-linux-x64/bin/node ${process.version}`,
    ...(sha ? ["agent=present"] : []),
    `free_kb=${50 * 1024 * 1024}`,
    "",
  ].join("\n");
}

/**
 * The instance's end of `spotrun agent follow` over the fake files, in its wire format
 * (src/agent/follow-frames.ts): hello, then log and ev frames as bytes are appended (log first),
 * and a heartbeat every --heartbeat-ms (sent from the fleet's one timer, not a timer per stream).
 */
class FakeFollow implements StreamHandle {
  readonly done: Promise<StreamEnd>;
  private end: (e: StreamEnd) => void = () => {};
  private ended = false;
  private scheduled = false;
  private lastHb: number;
  private readonly unwatch: (() => void)[];

  constructor(
    private readonly inst: FakeInstance,
    private readonly fleet: FakeFleet,
    private eventsOffset: number,
    private logOffset: number,
    private readonly hbMs: number,
    private readonly opts: StreamOptions,
  ) {
    this.done = new Promise((r) => {
      this.end = r;
    });
    this.lastHb = Date.now();
    this.unwatch = [inst.log.watch(() => this.schedule()), inst.events.watch(() => this.schedule())];
    opts.signal?.addEventListener("abort", () => void this.close(), { once: true });
    fleet.counts.open();
    fleet.counts.streamsOpened++;
    fleet.counts.streamsOpen++;
    this.send(helloFrame(eventsOffset, logOffset));
    this.schedule();
  }

  private send(line: string): void {
    const bytes = Buffer.from(line, "latin1");
    setImmediate(() => {
      if (!this.ended) this.opts.onStdout(bytes);
    });
  }

  /** New bytes go out on a later turn, many appends in one pass, as the real follow's poll does. */
  private schedule(): void {
    if (this.scheduled || this.ended) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.ended) return;
    const log = this.inst.log.text;
    while (this.logOffset < log.length) {
      const piece = log.slice(this.logOffset, this.logOffset + FRAME_BYTES);
      this.opts.onStdout(Buffer.from(dataFrame("log", this.logOffset, Buffer.from(piece, "latin1")), "latin1"));
      this.logOffset += piece.length;
    }
    const ev = this.inst.events.text;
    while (this.eventsOffset < ev.length) {
      const nl = ev.lastIndexOf("\n", Math.min(ev.length, this.eventsOffset + FRAME_BYTES) - 1);
      const end = nl >= this.eventsOffset ? nl + 1 : ev.indexOf("\n", this.eventsOffset) + 1;
      if (end <= this.eventsOffset) break;
      const piece = ev.slice(this.eventsOffset, end);
      this.opts.onStdout(Buffer.from(dataFrame("ev", this.eventsOffset, Buffer.from(piece, "latin1")), "latin1"));
      this.eventsOffset = end;
    }
  }

  heartbeat(now: number): void {
    if (this.ended || now - this.lastHb < this.hbMs) return;
    this.lastHb = now;
    const size = (f: AppendFile) => (f.exists ? f.text.length : -1);
    // As the real follow does: the agent's own heartbeat rides along (a running fake agent's is now).
    this.send(heartbeatFrame(size(this.inst.events), size(this.inst.log), this.inst.agentAlive ? now : undefined));
  }

  close(error?: Error): Promise<StreamEnd> {
    if (!this.ended) {
      this.ended = true;
      for (const u of this.unwatch) u();
      this.fleet.follows.delete(this);
      this.fleet.counts.close();
      this.fleet.counts.streamsOpen--;
      this.end(error ? { exitCode: null, signal: null, error } : { exitCode: 0, signal: null });
    }
    return this.done;
  }
}

/** A stream of a command the fake does not know: it fails at once, as a missing program would. */
function unknownStream(opts: StreamOptions): StreamHandle {
  const done = Promise.resolve<StreamEnd>({ exitCode: 127, signal: null });
  setImmediate(() => opts.onStderr?.(Buffer.from("bench: no such command on this fake instance\n")));
  return { done, close: () => done };
}

const ok = (stdout = ""): ExecResult => ({ exitCode: 0, signal: null, stdout, stderr: "" });

/** One connection to one fake instance, counting as an SSH transport would cost. */
class CountingTransport implements Transport {
  readonly label: string;
  readonly home: string;
  private closed = false;
  /** What this transport opened, as Transport.stats() reports it. */
  private readonly own = { execs: 0, streams: 0, openStreams: 0 };
  private readonly streams = new Set<FakeFollow>();

  constructor(
    private readonly inst: FakeInstance,
    private readonly fleet: FakeFleet,
  ) {
    this.label = `bench:${inst.id}`;
    this.home = inst.home;
    fleet.counts.transportsOpened++;
  }

  private phase(): Phase {
    return this.inst.agentStarted ? "steady" : "bootstrap";
  }

  /** A channel open for the length of one operation; answered on a later turn, as a network would. */
  private async channel<T>(fn: () => T): Promise<T> {
    const c = this.fleet.counts;
    this.own.execs++;
    c.open();
    try {
      await new Promise<void>((r) => setImmediate(r));
      return fn();
    } finally {
      c.close();
    }
  }

  exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    this.fleet.counts.execs[this.phase()]++;
    return this.channel(() => {
      if (command.includes("uname -m")) return ok(probeAnswer(this.home, command));
      if (command.includes("agent run --config")) this.fleet.agentStarted(this.inst);
      const r = ok();
      if (r.stdout) opts.onStdout?.(r.stdout);
      return r;
    });
  }

  /** `agent follow` is answered from the fake files; any other long-lived command does not exist here. */
  stream(command: string, opts: StreamOptions): StreamHandle {
    const num = (flag: string, dflt: number) => Number(new RegExp(`--${flag} (\\d+)`).exec(command)?.[1] ?? dflt);
    if (!/\bagent follow\b/.test(command)) return unknownStream(opts);
    this.own.streams++;
    this.own.openStreams++;
    const f = new FakeFollow(
      this.inst,
      this.fleet,
      num("events-offset", 0),
      num("log-offset", 0),
      num("heartbeat-ms", 2000),
      opts,
    );
    this.fleet.follows.add(f);
    this.streams.add(f);
    void f.done.then(() => {
      this.own.openStreams--;
      this.streams.delete(f);
    });
    return f;
  }

  stats(): TransportStats {
    return { ...this.own };
  }

  readFile(path: string, offset = 0): Promise<Buffer | undefined> {
    this.fleet.counts.reads[this.phase()]++;
    return this.channel(() => this.inst.read(path, offset));
  }

  writeFile(path: string, data: string | Uint8Array): Promise<void> {
    this.fleet.counts.writes[this.phase()]++;
    return this.channel(() => {
      if (this.inst.write(path, data) === "go") this.fleet.went(this.inst);
    });
  }

  upload(_localDir: string, _remoteDir: string, _opts?: SyncOptions): Promise<void> {
    this.fleet.counts.transfers++;
    return this.channel(() => undefined);
  }

  download(_remotePath: string, _localPath: string): Promise<void> {
    this.fleet.counts.transfers++;
    return this.channel(() => undefined);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.fleet.counts.transportsClosed++;
    // Its channels go with the connection.
    for (const f of this.streams) await f.close(new Error("the connection was closed"));
  }
}

export interface FleetOptions {
  /** How often each running agent writes a checkpoint event. */
  checkpointEveryMs: number;
  /** Called with the generation and the time its event was appended (for event → store latency). */
  onCheckpoint: (jobId: string, generation: string, at: number) => void;
  random: () => number;
}

/**
 * Every instance the provider has handed a transport for, by id, and the agents they run. One
 * timer drives all agents (`tick`), so the fleet itself adds no per-instance timers.
 */
export class FakeFleet {
  readonly counts = new TransportCounts();
  private readonly instances = new Map<string, FakeInstance>();
  /** The instance whose agent runs the job's current attempt. */
  readonly byJob = new Map<string, FakeInstance>();
  /** Open `agent follow` streams, for their heartbeats. */
  readonly follows = new Set<FakeFollow>();
  private generations = 0;

  constructor(private readonly o: FleetOptions) {}

  transport(info: InstanceInfo): Transport {
    let inst = this.instances.get(info.id);
    if (!inst) {
      inst = new FakeInstance(info.id, "/home/ubuntu");
      this.instances.set(info.id, inst);
    }
    return new CountingTransport(inst, this);
  }

  agentStarted(inst: FakeInstance): void {
    inst.startAgent(Date.now(), this.o.checkpointEveryMs, this.o.random());
    if (inst.jobId && inst.agentRunning) this.byJob.set(inst.jobId, inst);
  }

  /** Noticed (or stopped) agents that have yet to save and exit. */
  private readonly exiting = new Set<FakeInstance>();

  /** A warm replacement was told to go: it is the job's instance from now on. */
  went(inst: FakeInstance): void {
    if (inst.jobId) this.byJob.set(inst.jobId, inst);
  }

  get running(): number {
    let n = 0;
    for (const i of this.byJob.values()) if (i.agentRunning) n++;
    return n;
  }

  /** Write the checkpoints that are due; send the heartbeats of the open streams. */
  tick(now: number): void {
    for (const f of this.follows) f.heartbeat(now);
    for (const inst of this.byJob.values()) if (inst.exitAt !== Number.POSITIVE_INFINITY) this.exiting.add(inst);
    for (const inst of this.exiting)
      if (inst.exitAt <= now) {
        this.exiting.delete(inst);
        // Its final checkpoint is not a visit-latency sample: the attempt ends on it.
        inst.saveAndExit(now, `g-bench-${++this.generations}`);
      } else if (inst.exitAt === Number.POSITIVE_INFINITY) this.exiting.delete(inst);
    for (const [jobId, inst] of this.byJob) {
      if (!inst.agentRunning || inst.nextCheckpointAt > now) continue;
      const generation = `g-bench-${++this.generations}`;
      inst.checkpoint(now, generation, this.o.checkpointEveryMs);
      this.o.onCheckpoint(jobId, generation, now);
    }
  }

  /** A spot notice on a random running job that has had none; its job id, or undefined if none is left. */
  injectNotice(now: number): string | undefined {
    const candidates = [...this.byJob.entries()].filter(([, i]) => i.agentRunning && !i.noticed);
    const pick = candidates[Math.floor(this.o.random() * candidates.length)];
    if (!pick) return undefined;
    pick[1].notice(now);
    return pick[0];
  }
}
