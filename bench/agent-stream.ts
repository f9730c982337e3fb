/**
 * Agent events to the controller (issue 13 item 3): K instances on a real sshd, each with its own
 * SSH connection as the controller keeps one per instance, each with an agent appending an event
 * and a log line every second. Streamed: one AgentEventStream (`agent follow` from the shipped
 * artifact) per instance. Its peer, measured in the same run on the same hosts: today's
 * controller, two readFile(offset) calls per instance per 250 ms visit (steadyPollMs). Printed
 * per mode: append → controller latency p50/p99, SSH execs per instance per minute, channels
 * opened, the bench process's CPU; then the ratios.
 * Usage: node dist/bench/agent-stream.js [--instances 20] [--seconds 20] [--json]
 */
import { appendFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { AgentEventStream } from "../src/agent/event-stream.js";
import { parseEventLines } from "../src/agent/protocol.js";
import { connectSsh } from "../src/transport/ssh/connect.js";
import type { Transport } from "../src/transport/transport.js";
import { installAgent } from "../test/support/follow-kit.js";
import { startSshCluster } from "../test/support/ssh-cluster.js";

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  if (!Number.isFinite(v) || v <= 0) {
    process.stderr.write(
      `spotrun: --${name} ${process.argv[i + 1]} is not a positive number — pass one, e.g. --${name} ${dflt}\n`,
    );
    process.exit(2);
  }
  return v;
};
const K = arg("instances", 20);
const SECONDS = arg("seconds", 20);
const POLL_MS = 250;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Figures {
  mode: string;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  events: number;
  execsPerInstancePerMin: number;
  channelsOpened: number;
  cpuMsPerSec: number;
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
};

/** Every instance's agent: an event stamped with the time it is written, after its log line, once a second. */
async function agents(dirs: string[], until: number): Promise<void> {
  let i = 0;
  while (Date.now() < until) {
    const round = Date.now();
    for (const [k, dir] of dirs.entries()) {
      // Spread over the second, as independent agents would be.
      await sleep(Math.max(0, round + (k * 1000) / dirs.length - Date.now()));
      appendFileSync(join(dir, "run.log"), `step ${i}\n`);
      appendFileSync(join(dir, "events.jsonl"), `${JSON.stringify({ at: Date.now(), kind: "warning", message: `step ${i}` })}\n`);
    }
    i++;
    await sleep(Math.max(0, round + 1000 - Date.now()));
  }
}

async function measure(
  mode: string,
  ts: Transport[],
  dirs: string[],
  follow: (t: Transport, dir: string, seen: (at: number) => void) => Promise<() => Promise<void>>,
): Promise<Figures> {
  const lat: number[] = [];
  const atStart = ts.map((t) => t.stats());
  // Resolves once every instance is followed: a stream's hello has come, a poll's first visit is done.
  const stops = await Promise.all(ts.map((t, k) => follow(t, dirs[k] as string, (at) => lat.push(Date.now() - at))));
  lat.length = 0;
  const before = ts.map((t) => t.stats());
  const cpu0 = process.cpuUsage();
  const t0 = Date.now();
  await agents(dirs, t0 + SECONDS * 1000);
  await sleep(1000); // the last events in flight
  const secs = (Date.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const after = ts.map((t) => t.stats());
  await Promise.all(stops.map((s) => s()));
  const execs = after.reduce((n, a, k) => n + a.execs - (before[k]?.execs ?? 0), 0);
  // Channels over the whole mode, the first opening included: one per instance when nothing drops.
  const channels = after.reduce((n, a, k) => n + a.streams - (atStart[k]?.streams ?? 0), 0);
  return {
    mode,
    p50Ms: pct(lat, 50),
    p90Ms: pct(lat, 90),
    p99Ms: pct(lat, 99),
    maxMs: pct(lat, 100),
    events: lat.length,
    execsPerInstancePerMin: (execs / ts.length / secs) * 60,
    channelsOpened: channels,
    cpuMsPerSec: (cpu.user + cpu.system) / 1000 / secs,
  };
}

const cluster = await startSshCluster({ n: 1, name: "bstream", firstIndex: 121 });
const ts: Transport[] = [];
try {
  for (let k = 0; k < K; k++) ts.push(await connectSsh({ ...cluster.target(0), label: `i-${k}` }));
  const launcher = await installAgent(ts[0] as Transport, "i-bench");
  const fresh = (mode: string) =>
    ts.map((t, k) => {
      const d = join(t.home, `${mode}-${k}`);
      mkdirSync(d, { recursive: true });
      return d;
    });

  const streamed = await measure("stream (agent follow)", ts, fresh("stream"), async (t, dir, seen) => {
    let up: () => void = () => {};
    const isUp = new Promise<void>((r) => {
      up = r;
    });
    const s: AgentEventStream = new AgentEventStream({
      onChannel: (c) => {
        if (c.kind === "up") up();
      },
      transport: t,
      launcher,
      dir,
      eventsOffset: 0,
      logOffset: 0,
      onEvents: (events, off) => {
        for (const e of events) seen(e.at);
        s.ack(off, s.position().acked.log);
      },
      onLog: (_b, off) => s.ack(s.position().acked.events, off),
    });
    s.start();
    await isUp;
    return () => s.close();
  });

  const polled = await measure(`poll (2 readFile / ${POLL_MS} ms)`, ts, fresh("poll"), async (t, dir, seen) => {
    let stop = false;
    let visited: () => void = () => {};
    const firstVisit = new Promise<void>((r) => {
      visited = r;
    });
    const loop = (async () => {
      let ev = 0;
      let log = 0;
      while (!stop) {
        const visit = Date.now();
        const [e, l] = await Promise.all([t.readFile(join(dir, "events.jsonl"), ev), t.readFile(join(dir, "run.log"), log)]);
        log += l?.length ?? 0;
        if (e?.length) {
          const { events, consumed } = parseEventLines(e.toString("utf8"));
          for (const x of events) seen(x.at);
          ev += consumed;
        }
        visited();
        await sleep(Math.max(0, visit + POLL_MS - Date.now()));
      }
    })();
    await firstVisit;
    return async () => {
      stop = true;
      await loop;
    };
  });

  const rows = [streamed, polled];
  if (process.argv.includes("--json")) process.stdout.write(`${JSON.stringify({ instances: K, seconds: SECONDS, rows })}\n`);
  else {
    const f = (x: number, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : "-");
    process.stdout.write(`agent events → controller, ${K} instances on one sshd, ${SECONDS} s each, 1 event/s per instance\n`);
    process.stdout.write(
      `${"mode".padEnd(28)}${"p50 ms".padStart(8)}${"p90 ms".padStart(8)}${"p99 ms".padStart(8)}${"max ms".padStart(8)}${"events".padStart(8)}${"execs/inst/min".padStart(16)}${"channels".padStart(10)}${"cpu ms/s".padStart(10)}\n`,
    );
    for (const r of rows)
      process.stdout.write(
        `${r.mode.padEnd(28)}${f(r.p50Ms).padStart(8)}${f(r.p90Ms).padStart(8)}${f(r.p99Ms).padStart(8)}${f(r.maxMs).padStart(8)}${String(r.events).padStart(8)}${f(r.execsPerInstancePerMin, 1).padStart(16)}${String(r.channelsOpened).padStart(10)}${f(r.cpuMsPerSec).padStart(10)}\n`,
      );
    const ratio = (a: number, b: number) => (b === 0 ? (a === 0 ? "1" : "∞ (peer > 0, stream 0)") : (a / b).toFixed(1));
    process.stdout.write(
      `poll / stream: p50 latency ${ratio(polled.p50Ms, streamed.p50Ms)}x, p99 ${ratio(polled.p99Ms, streamed.p99Ms)}x, execs ${ratio(polled.execsPerInstancePerMin, streamed.execsPerInstancePerMin)}, cpu ${ratio(polled.cpuMsPerSec, streamed.cpuMsPerSec)}x\n`,
    );
  }
} finally {
  await Promise.all(ts.map((t) => t.close()));
  await cluster.stop();
}
