import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { safetyMargin } from "../agent/agent.js";
import { dirSignature } from "../agent/checkpoint-dir-watcher.js";
import { shellQuote } from "../base/shell-quote.js";
import { linkPersistPath, mapPersistPath } from "./persist-paths.js";
import type { SessionEvents } from "./session-events.js";
import type { SupervisorSpec } from "./supervisor-spec.js";
import { Tmux } from "./tmux.js";
import {
  FILL_WARNING,
  isFreshVolume,
  readVolumeMeta,
  recordStartedAgents,
  startedAgents,
  usedBytes,
  writeVolumeMeta,
} from "./volume.js";
import { restoreSnapshot, writeSnapshot } from "./volume-snapshot.js";

const run = promisify(execFile);

export interface SupervisorHost {
  /** The instance's HOME: `~` in persisted paths. */
  home: string;
  /** $SPOT_CHECKPOINT_DIR: the agent has restored the newest generation into it, and uploads what changes. */
  checkpointDir: string;
  cwd: string;
}

export interface AgentStart {
  name: string;
  resumed: boolean;
  command: string;
}

export interface SaveReport {
  total_ms: number;
  agents: { name: string; how: "keys" | "sigterm" | "none"; exited: boolean; ms: number; why?: string }[];
  snapshot_bytes: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Whether any process of the pane's group still runs. Zombies do not count: an agent that exited
 * is not reaped until its parent (the tmux server) gets to it, which on a loaded machine can take
 * longer than the save may wait.
 */
function groupAlive(pgid: number): boolean {
  let names: string[];
  try {
    names = readdirSync("/proc");
  } catch {
    try {
      process.kill(-pgid, 0);
      return true;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === "EPERM";
    }
  }
  for (const name of names) {
    if (name.charCodeAt(0) > 57) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, "utf8");
    } catch {
      continue;
    }
    // pid (comm) state ppid pgrp …; comm may hold spaces and parentheses, so split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(fields[2]) === pgid && fields[0] !== "Z") return true;
  }
  return false;
}

function signalGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {}
  }
}

/**
 * Runs a session on one instance: puts the volume's paths in place, starts every agent in its
 * tmux window (resuming those that ran on this volume before), snapshots the volume into the
 * checkpoint directory every interval, and on a stop saves within the budget: agents stopped,
 * disk flushed, a final snapshot. Each step's duration goes to the event log.
 */
export class SessionSupervisor {
  private readonly tmux: Tmux;
  private lastSnapshotSig = "";
  private fillWarned = false;

  constructor(
    private readonly spec: SupervisorSpec,
    private readonly host: SupervisorHost,
    private readonly events: SessionEvents,
  ) {
    this.tmux = new Tmux(spec.tmux, join(host.home, ".spotrun", "session-tmux.conf"));
  }

  private get volume(): string {
    return this.spec.volume.path;
  }

  async start(): Promise<AgentStart[]> {
    await mkdir(this.volume, { recursive: true });
    await this.events.timed(
      "restore",
      async () => {
        if (!(await isFreshVolume(this.volume))) return `volume kept (${await usedBytes(this.volume)} bytes)`;
        const bytes = await restoreSnapshot(this.host.checkpointDir, this.volume);
        return bytes === undefined ? "new volume, no snapshot" : `restored snapshot (${bytes} bytes)`;
      },
      (d) => d,
    );
    if (!(await readVolumeMeta(this.volume)))
      await writeVolumeMeta(this.volume, {
        session: this.spec.session,
        size_bytes: this.spec.volume.size_bytes,
        created_at: Date.now(),
      });
    await this.events.timed(
      "link",
      async () => {
        const outcomes = [];
        for (const p of this.spec.persist)
          outcomes.push(`${p}:${await linkPersistPath(mapPersistPath(p, this.host.home, this.volume))}`);
        return outcomes.join(" ");
      },
      (d) => d,
    );
    this.lastSnapshotSig = await dirSignature(this.volume);
    return this.events.timed(
      "agents_started",
      () => this.startAgents(),
      (s) => s.map((a) => `${a.name} (${a.resumed ? "resumed" : "new"})`).join(", "),
    );
  }

  private async startAgents(): Promise<AgentStart[]> {
    await mkdir(join(this.host.home, ".spotrun"), { recursive: true });
    await writeFile(
      join(this.host.home, ".spotrun", "session-tmux.conf"),
      // Panes stay after their agent exits, so `attach` shows how it ended.
      "set -g remain-on-exit on\nset -g history-limit 50000\n",
    );
    await this.tmux.killServer();
    const before = await startedAgents(this.volume);
    const starts: AgentStart[] = this.spec.agents.map((a) => {
      const resumed = before.has(a.name);
      return { name: a.name, resumed, command: resumed ? (a.resume_command ?? a.command) : a.command };
    });
    for (const [i, s] of starts.entries())
      await this.tmux.newWindow(this.spec.session, s.name, `exec bash -c ${shellQuote(s.command)}`, {
        cwd: this.host.cwd,
        env: { SPOTRUN_SESSION: this.spec.session, SPOTRUN_AGENT: s.name, SPOTRUN_AGENT_RESUMED: String(s.resumed) },
        first: i === 0,
      });
    await recordStartedAgents(this.volume, [...before, ...starts.map((s) => s.name)]);
    return starts;
  }

  /** Periodic snapshots until `signal` aborts; only a volume that changed is snapshotted again. */
  async runUntil(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await new Promise<void>((r) => {
        const t = setTimeout(r, this.spec.snapshot_interval_ms);
        signal.addEventListener(
          "abort",
          () => {
            clearTimeout(t);
            r();
          },
          { once: true },
        );
      });
      if (signal.aborted) break;
      await this.periodic().catch((e: Error) => this.events.warning(`session snapshot failed: ${e.message}`));
    }
  }

  async periodic(): Promise<void> {
    const sig = await dirSignature(this.volume);
    if (sig !== this.lastSnapshotSig) {
      const t0 = Date.now();
      const bytes = await writeSnapshot(this.volume, this.host.checkpointDir);
      this.lastSnapshotSig = sig;
      this.events.step("snapshot", Date.now() - t0, `periodic, ${bytes} bytes`);
    }
    await this.checkFill();
  }

  private async checkFill(): Promise<void> {
    const meta = await readVolumeMeta(this.volume);
    if (!meta) return;
    const used = await usedBytes(this.volume);
    const full = used / meta.size_bytes;
    if (full >= FILL_WARNING && !this.fillWarned) {
      this.fillWarned = true;
      this.events.warning(
        `session ${this.spec.session}: volume ${Math.round(full * 100)}% full (${used} of ${meta.size_bytes} bytes) — grow it with \`spotrun volume resize ${this.spec.session} SIZE\``,
      );
    } else if (full < FILL_WARNING) this.fillWarned = false;
  }

  /**
   * `save_budget`, or less when a notice leaves less: the agent stops this process at the deadline
   * less its safety margin (GCP's 30 s leave about 22 s), and the snapshot must be written by then.
   */
  budgetNow(now: number): number {
    const notice = this.events.lastNotice();
    if (!notice || notice.deadline < now - 60_000) return this.spec.save_budget_ms;
    const agentStops = notice.deadline - safetyMargin(notice.deadline - notice.seenAt);
    return Math.round(Math.max(500, Math.min(this.spec.save_budget_ms, agentStops - now - 200)));
  }

  /**
   * The save on a notice or a stop, inside `save_budget`: agents get their stop (keys or SIGTERM)
   * and until the budget less a reserve to exit; then the disk is flushed and the final snapshot
   * written, which the agent uploads as soon as this process exits.
   */
  async save(): Promise<SaveReport> {
    const t0 = Date.now();
    const budget = this.budgetNow(t0);
    const reserve = Math.min(5_000, budget * 0.3);
    const panes = await this.tmux.panes(this.spec.session).catch((e: Error) => {
      // No tmux server: every agent has already ended; the save goes on without them.
      this.events.warning(`session ${this.spec.session}: no tmux panes to stop (${e.message.trim().split("\n").at(-1)})`);
      return [];
    });
    const agents: SaveReport["agents"] = [];
    const stopT0 = Date.now();
    for (const a of this.spec.agents) {
      const pane = panes.find((p) => p.window === a.name);
      if (!pane || pane.dead || !groupAlive(pane.pid)) {
        const why = !pane ? "no window" : pane.dead ? "pane dead" : `no process ${pane.pid}`;
        agents.push({ name: a.name, how: "none", exited: true, ms: 0, why });
        continue;
      }
      if (a.stop_keys) await this.tmux.sendKeys(`${this.spec.session}:${a.name}`, a.stop_keys).catch(() => {});
      else signalGroup(pane.pid, "SIGTERM");
      agents.push({ name: a.name, how: a.stop_keys ? "keys" : "sigterm", exited: false, ms: 0 });
    }
    const until = t0 + budget - reserve;
    for (;;) {
      for (const r of agents) {
        if (r.exited) continue;
        const pane = panes.find((p) => p.window === r.name);
        if (pane && !groupAlive(pane.pid)) {
          r.exited = true;
          r.ms = Date.now() - stopT0;
        }
      }
      if (agents.every((r) => r.exited) || Date.now() >= until) break;
      await sleep(50);
    }
    for (const r of agents.filter((x) => !x.exited)) {
      const pane = panes.find((p) => p.window === r.name);
      if (pane) signalGroup(pane.pid, "SIGKILL");
      r.ms = Date.now() - stopT0;
    }
    this.events.step(
      "stop_agents",
      Date.now() - stopT0,
      agents
        .map((r) =>
          r.how === "none"
            ? `${r.name}: already gone (${r.why})`
            : `${r.name}: ${r.how}, ${r.exited ? `exited in ${r.ms} ms` : "killed at the budget"}`,
        )
        .join("; "),
    );
    await this.events.timed("flush", () =>
      run("sync", [], { timeout: Math.round(Math.max(1_000, reserve / 2)) }).catch(() => undefined),
    );
    const snapshotBytes = await this.events
      .timed(
        "snapshot",
        () => writeSnapshot(this.volume, this.host.checkpointDir),
        (b) => `final, ${b} bytes`,
      )
      .catch((e: Error) => {
        // The previous snapshot stays in place and is what the agent uploads; the log says why.
        this.events.warning(`session ${this.spec.session}: final snapshot failed: ${e.message.trim().split("\n").at(-1)}`);
        return 0;
      });
    await this.events.timed("tmux_exit", () => this.tmux.killServer());
    const total = Date.now() - t0;
    this.events.step("save_total", total, `budget ${budget} ms`);
    return { total_ms: total, agents, snapshot_bytes: snapshotBytes };
  }
}
