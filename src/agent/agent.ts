import { appendFileSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { writeFileAtomic } from "../base/atomic-file.js";
import { shellQuote } from "../base/shell-quote.js";
import { attemptLogKey } from "../checkpoints/attempt-logs.js";
import { type CheckpointStore, type Manifest, splitGenerationUrl } from "../checkpoints/generations.js";
import { openCheckpointStore } from "../checkpoints/open-store.js";
import { CheckpointDirWatcher, dirSignature } from "./checkpoint-dir-watcher.js";
import { runHook } from "./hook-runner.js";
import type { Notice, NoticeWatcher } from "./notice.js";
import {
  type AgentConfig,
  type AgentEvent,
  type AgentOutcome,
  agentPaths,
  type ControlRequest,
  PROGRESS_FILE,
} from "./protocol.js";
import { snapshotDir } from "./snapshot-dir.js";
import { deferredStopAt, stopBudgetMs } from "./stop-budget.js";
import { Supervisor } from "./supervisor.js";

/** A trainer's progress fraction, if it wrote a readable one. */
function readProgress(path: string): number | undefined {
  try {
    const x = Number(readFileSync(path, "utf8").trim());
    return Number.isFinite(x) && x >= 0 && x <= 1 ? x : undefined;
  } catch {
    return undefined;
  }
}

/** Time kept back from the notice for the upload: a quarter of what is left, within [200 ms, 10 s]. */
export const safetyMargin = (leftMs: number): number => Math.min(10_000, Math.max(200, leftMs * 0.25));

type Distributive<T> = T extends unknown ? Omit<T, "at"> : never;
type EventBody = Distributive<AgentEvent>;

/**
 * The agent on the instance: restores the newest checkpoint, runs setup and the user's command,
 * watches the provider's notice source, and on a notice (or a stop request) runs the hook within
 * the deadline, stops the trainer and uploads its checkpoint as a new generation. It also uploads
 * whenever the trainer writes a new checkpoint, so an abrupt loss costs at most one interval.
 */
export class Agent {
  private readonly paths: ReturnType<typeof agentPaths>;
  private readonly logFd: number;
  private store!: CheckpointStore;
  private readonly supervisor = new Supervisor();
  private readonly ckWatcher: CheckpointDirWatcher;
  private watcher: NoticeWatcher | undefined;
  private stopping: Promise<void> | undefined;
  private uploading: Promise<void> = Promise.resolve();
  private lastCheckpointAt: number;
  private stallWarnedAt = 0;
  private polling = false;
  private resumedFrom: string | null = null;
  /** The checkpoint came from `checkpoint.resume_from`, not from this job's own store. */
  private resumedElsewhere = false;
  private timers: NodeJS.Timeout[] = [];
  private exitOutcome: { outcome: AgentOutcome; exit_code?: number | null; message?: string } | undefined;
  /** An interruption notice whose stop is deferred (notice.defer_stop): the controller's stop request honours its deadline. */
  private pendingNotice: { deadline: number; action: string; source: string } | undefined;
  /** A warm replacement waiting for the controller's `go` (wait_for_go): resolves true on go, false if it must end instead. */
  private goWaiter: ((go: boolean) => void) | undefined;
  private lastUploadMs: number | undefined;
  /** A warm replacement that has not had its go yet: nothing of the user's has run, so nothing is saved. */
  private get warm(): boolean {
    return this.cfg.wait_for_go === true && !this.went;
  }
  private went = false;

  constructor(
    private readonly cfg: AgentConfig,
    private readonly home: string,
    private readonly makeWatcher: (cfg: AgentConfig) => Promise<NoticeWatcher | undefined>,
  ) {
    this.paths = agentPaths(join(home, ".spotrun"));
    mkdirSync(dirname(this.paths.log), { recursive: true });
    this.logFd = openSync(this.paths.log, "a");
    this.ckWatcher = new CheckpointDirWatcher(cfg.checkpoint.dir);
    this.lastCheckpointAt = Date.now();
  }

  /** Append-only and synchronous: an event the controller may act on is on disk before we go on. */
  private emit(e: EventBody): void {
    appendFileSync(this.paths.events, `${JSON.stringify({ at: Date.now(), ...e })}\n`);
  }

  private log(line: string): void {
    appendFileSync(this.logFd, `[spotrun-agent] ${line}\n`);
  }

  private userEnv(): NodeJS.ProcessEnv {
    const c = this.cfg;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...c.envs,
      SPOT_CHECKPOINT_DIR: c.checkpoint.dir,
      SPOT_IS_RESTART: c.restart_count > 0 ? "true" : "false",
      SPOT_RESTART_COUNT: String(c.restart_count),
      SPOT_RESUME_FROM: this.resumedFrom ?? "",
      SPOT_WORKER_ID: String(c.node),
      SPOT_NUM_WORKERS: String(c.num_nodes),
      SPOT_JOB_ID: c.job_id,
      SPOT_ATTEMPT: String(c.attempt),
      SPOT_PROGRESS_FILE: join(c.checkpoint.dir, PROGRESS_FILE),
    };
    if (c.coordinator_address) {
      env.JAX_COORDINATOR_ADDRESS = c.coordinator_address;
      const [addr] = c.coordinator_address.split(":");
      env.MASTER_ADDR = addr;
      env.MASTER_PORT = String(c.master_port ?? 29500);
    }
    return env;
  }

  async run(): Promise<AgentOutcome> {
    const c = this.cfg;
    this.emit({ kind: "agent_started", pid: process.pid });
    this.heartbeat();
    this.timers.push(setInterval(() => this.heartbeat(), 2000));
    process.on("SIGTERM", this.onSigterm);

    this.store = await openCheckpointStore(c.checkpoint.store_url);
    this.watcher = await this.makeWatcher(c);
    this.watcher?.start((n) => this.onNotice(n));
    this.timers.push(setInterval(() => void this.pollControl(), c.notice.poll_ms));

    if (c.wait_for_go) {
      // A warm replacement: setup now, while the old instance still works; the checkpoint it will
      // write last is restored only after the go.
      if (c.setup) {
        const failed = await this.runSetup();
        if (failed) return failed;
      }
      if (!this.stopping) {
        const t = Date.now();
        this.emit({ kind: "waiting_for_go" });
        const go = await new Promise<boolean>((r) => {
          this.goWaiter = r;
        });
        this.goWaiter = undefined;
        if (go) {
          this.went = true;
          this.emit({ kind: "go", waited_ms: Date.now() - t });
        }
      }
      if (this.stopping) {
        await this.stopping;
        return this.exitOutcome?.outcome ?? "preempted";
      }
    }

    const t0 = Date.now();
    const restored =
      (await this.store.restoreLatest(c.checkpoint.dir).catch((e: Error) => {
        this.emit({ kind: "warning", message: `restore failed: ${e.message}` });
        return undefined;
      })) ?? (await this.restoreResumeFrom());
    mkdirSync(c.checkpoint.dir, { recursive: true });
    this.resumedFrom = restored?.generation ?? null;
    if (restored) this.ckWatcher.markUploaded(await dirSignature(c.checkpoint.dir));
    this.emit({ kind: "restored", generation: this.resumedFrom, ms: Date.now() - t0 });
    if (restored) this.log(`restored checkpoint generation ${restored.generation} into ${c.checkpoint.dir}`);

    if (c.setup && !c.wait_for_go && !this.stopping) {
      const failed = await this.runSetup();
      if (failed) return failed;
    }
    if (this.stopping) {
      await this.stopping;
      return this.exitOutcome?.outcome ?? "preempted";
    }

    let command = c.run;
    if ((c.restart_count > 0 || this.resumedElsewhere) && this.resumedFrom && c.checkpoint.resume_arg)
      command = `${command} ${c.checkpoint.resume_arg} ${shellQuote(c.checkpoint.dir)}`;
    const pid = this.supervisor.start(command, { cwd: c.workdir, env: this.userEnv(), logFd: this.logFd });
    this.emit({ kind: "run_started", restart: c.restart_count > 0, pid });
    this.timers.push(setInterval(() => void this.pollCheckpoints(), 250));

    const exit = await this.supervisor.exited;
    this.emit({ kind: "run_exited", exit_code: exit.exitCode, signal: exit.signal });
    if (this.stopping) {
      await this.stopping;
      return this.exitOutcome?.outcome ?? "preempted";
    }
    // The trainer finished on its own: keep what it wrote last, then report.
    await this.uploadIfChanged(exit.exitCode === 0 ? "final" : "failure");
    await this.shipLog(Date.now() + 30_000);
    return this.finish(
      exit.exitCode === 0 ? { outcome: "succeeded", exit_code: 0 } : { outcome: "failed", exit_code: exit.exitCode },
    );
  }

  /** The task's setup; its failure's outcome, or undefined when it passed (or a stop cut it short). */
  private async runSetup(): Promise<AgentOutcome | undefined> {
    const c = this.cfg;
    const t1 = Date.now();
    const res = await runHook(c.setup as string, {
      cwd: c.workdir,
      env: this.userEnv(),
      timeoutMs: 24 * 3_600_000,
      logFd: this.logFd,
    });
    this.emit({ kind: "setup_done", exit_code: res.exitCode ?? -1, ms: Date.now() - t1 });
    if (res.outcome !== "ok" && !this.stopping) return this.finish({ outcome: "setup_failed", exit_code: res.exitCode });
    return undefined;
  }

  /** Our own SIGTERM (system shutdown, GCE's shutdown path): save as for a notice with the usual window. */
  private readonly onSigterm = () => this.interrupt(Date.now() + 25_000, "shutdown", "signal");

  private heartbeat(): void {
    void writeFileAtomic(this.paths.heartbeat, String(Date.now())).catch(() => {});
  }

  private async pollControl(): Promise<void> {
    if (this.stopping) return;
    let req: ControlRequest | undefined;
    try {
      req = JSON.parse(readFileSync(this.paths.control, "utf8")) as ControlRequest;
    } catch {
      return;
    }
    if (req?.action === "go") this.goWaiter?.(true);
    else if (req?.action === "checkpoint-and-stop") {
      // Under a deferred notice the stop is the notice's (its deadline, a preemption), only sooner.
      const n = this.pendingNotice;
      if (n) this.interrupt(n.deadline, n.action, n.source, true);
      else this.interrupt(Date.now() + this.cfg.checkpoint.hook_timeout_ms + 30_000, `stop:${req.reason}`, "controller");
    }
  }

  private async pollCheckpoints(): Promise<void> {
    if (this.stopping || this.polling) return;
    this.polling = true;
    try {
      const sig = await this.ckWatcher.poll();
      if (sig) await this.upload("periodic", sig);
    } finally {
      this.polling = false;
    }
    const stall = this.cfg.checkpoint.stall_warning_ms;
    const since = Date.now() - this.lastCheckpointAt;
    if (since > stall && Date.now() - this.stallWarnedAt > stall) {
      this.stallWarnedAt = Date.now();
      this.emit({ kind: "checkpoint_stalled", since_ms: since });
      this.log(
        `warning: no new checkpoint in ${Math.round(since / 60_000)} min — is the trainer writing to $SPOT_CHECKPOINT_DIR?`,
      );
    }
  }

  /**
   * A manual resume (`--resume-from`): while the job's own store has no checkpoint, the generation
   * the task names, from whichever store holds it. Its manifest is checked as any restore's is.
   */
  private async restoreResumeFrom(): Promise<Manifest | undefined> {
    const from = this.cfg.checkpoint.resume_from;
    if (!from) return undefined;
    try {
      const { storeUrl, generation } = splitGenerationUrl(from);
      const other = await openCheckpointStore(storeUrl);
      const verified = await other.verified();
      const m = generation ? verified.find((v) => v.generation === generation) : verified[0];
      if (!m) throw new Error(`no verified checkpoint ${from}`);
      await other.restore(m, this.cfg.checkpoint.dir);
      this.resumedElsewhere = true;
      this.log(`resuming from ${from}`);
      return m;
    } catch (e) {
      this.emit({ kind: "warning", message: `resume from ${from} failed: ${(e as Error).message}` });
      return undefined;
    }
  }

  /** Uploads are serialised: a notice waits for the periodic upload in flight, then sends its own. */
  private upload(reason: string, sig?: string): Promise<void> {
    if (!this.cfg.checkpoint.upload) return this.uploading;
    this.uploading = this.uploading.then(async () => {
      const signature = sig ?? (await dirSignature(this.cfg.checkpoint.dir));
      if (!signature) return;
      const t0 = Date.now();
      // Upload from hard links taken now: a checkpoint the trainer renames over mid-upload cannot tear it.
      const snap = await snapshotDir(this.cfg.checkpoint.dir, join(this.home, ".spotrun", `snap-${t0}`));
      try {
        const m = await this.store.save(snap, {
          jobId: this.cfg.job_id,
          attempt: this.cfg.attempt,
          reason,
          now: Date.now(),
        });
        this.ckWatcher.markUploaded(signature);
        this.lastCheckpointAt = Date.now();
        this.lastUploadMs = Date.now() - t0;
        const progress = readProgress(join(snap, PROGRESS_FILE));
        this.emit({
          kind: "checkpoint_uploaded",
          generation: m.generation,
          bytes: m.total_bytes,
          files: m.files.length,
          ms: Date.now() - t0,
          reason,
          ...(progress !== undefined ? { progress } : {}),
        });
        await this.store.prune(this.cfg.checkpoint.keep).catch(() => {});
      } catch (e) {
        this.emit({ kind: "checkpoint_failed", message: (e as Error).message });
      } finally {
        await rm(snap, { recursive: true, force: true });
      }
    });
    return this.uploading;
  }

  private async uploadIfChanged(reason: string): Promise<void> {
    await this.uploading;
    if (await this.ckWatcher.changedSinceUpload()) await this.upload(reason);
  }

  private onNotice(n: Notice): void {
    if (n.kind === "interruption") {
      this.emit({ kind: "notice", action: n.action, time: n.deadline, source: n.source, seen_at: n.seenAt });
      if (this.warm) this.endWaiting("preempted");
      else if (this.cfg.notice.defer_stop && !this.stopping) this.deferStop(n.deadline, n.action, n.source);
      else this.interrupt(n.deadline, n.action, n.source, true);
    } else if (n.kind === "rebalance") {
      // Elevated risk: take a checkpoint now rather than wait for the notice.
      this.emit({ kind: "rebalance", source: n.source });
      void this.uploadIfChanged("rebalance");
    } else if (n.kind === "maintenance") {
      this.emit({
        kind: "notice",
        action: `maintenance:${n.code}`,
        time: n.deadline ?? Date.now() + 30_000,
        source: n.source,
        seen_at: n.seenAt,
      });
      this.interrupt(n.deadline ?? Date.now() + 30_000, n.code, n.source, true);
    }
  }

  /**
   * Keep the trainer working while the controller readies a replacement: stop when it asks, or
   * when only the stop budget is left before the deadline.
   */
  private deferStop(deadline: number, action: string, source: string): void {
    if (this.pendingNotice) return;
    this.pendingNotice = { deadline, action, source };
    const c = this.cfg.checkpoint;
    const budget = stopBudgetMs({
      hook: c.hook !== undefined,
      hookTimeoutMs: c.hook_timeout_ms,
      lastUploadMs: this.lastUploadMs,
    });
    const at = deferredStopAt(Date.now(), deadline, budget);
    this.log(
      `interruption (${action}) — a replacement is being readied; stopping by ${new Date(at).toISOString()} at the latest`,
    );
    const timer = setTimeout(() => this.interrupt(deadline, action, source, true), at - Date.now());
    this.timers.push(timer);
  }

  /**
   * A warm replacement that must end before its go (reclaimed itself, or stopped): nothing ran,
   * nothing to save; a setup still running is left to the reclaim.
   */
  private endWaiting(outcome: AgentOutcome): void {
    if (this.stopping) return;
    this.stopping = Promise.resolve();
    this.finish({ outcome });
    this.goWaiter?.(false);
  }

  /**
   * The save path: hook (or SIGTERM) within min(hook_timeout, time left − safety margin), then the
   * upload of whatever exists — a failing or hanging hook never stops it.
   */
  private interrupt(deadline: number, action: string, source: string, alreadyEmitted = false): void {
    if (this.stopping) return;
    if (this.warm) {
      this.endWaiting(source === "controller" ? "stopped" : "preempted");
      return;
    }
    if (!alreadyEmitted && source !== "controller")
      this.emit({ kind: "notice", action, time: deadline, source, seen_at: Date.now() });
    const stopOnly = source === "controller";
    this.stopping = (async () => {
      const c = this.cfg;
      const left = deadline - Date.now();
      const margin = safetyMargin(left);
      const bound = Math.max(0, Math.min(c.checkpoint.hook_timeout_ms, left - margin));
      const env = { ...this.userEnv(), INTERRUPTION_TIME: new Date(deadline).toISOString(), INTERRUPTION_ACTION: action };
      if (c.checkpoint.hook) {
        this.log(`interruption (${action}) — running checkpoint hook, ${Math.round(bound)} ms allowed`);
        const res = await runHook(c.checkpoint.hook, { cwd: c.workdir, env, timeoutMs: bound, logFd: this.logFd });
        this.emit({ kind: "hook_ran", outcome: res.outcome, exit_code: res.exitCode, ms: res.ms });
      } else {
        this.emit({ kind: "hook_ran", outcome: "none", exit_code: null, ms: 0 });
      }
      const grace = Math.max(0, deadline - margin - Date.now());
      this.log(
        `interruption (${action}) — stopping the trainer (SIGTERM, ${Math.round(Math.min(grace, bound || grace))} ms grace)`,
      );
      await this.supervisor.stop(Math.min(grace, c.checkpoint.hook ? grace : bound));
      await this.uploadIfChanged(stopOnly ? "stop" : "notice");
      await this.shipLog(deadline - margin);
      const gen = (await this.store.latest().catch(() => undefined))?.generation ?? null;
      this.finish({ outcome: stopOnly ? "stopped" : "preempted", generation: gen });
    })();
  }

  /** The attempt's run log to the checkpoint store (node 0 speaks for the job), after the checkpoint and within `byMs`. */
  private async shipLog(byMs: number): Promise<void> {
    if (this.cfg.node !== 0 || !this.cfg.checkpoint.upload) return;
    const left = byMs - Date.now();
    if (left <= 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.store.blobs.putFile(attemptLogKey(this.cfg.attempt), this.paths.log),
      new Promise((r) => {
        timer = setTimeout(r, left);
      }),
    ])
      .catch((e: Error) =>
        this.emit({ kind: "warning", message: `could not keep the run log with the checkpoints: ${e.message}` }),
      )
      .finally(() => clearTimeout(timer));
  }

  private finish(o: {
    outcome: AgentOutcome;
    exit_code?: number | null;
    generation?: string | null;
    message?: string;
  }): AgentOutcome {
    if (this.exitOutcome) return this.exitOutcome.outcome;
    this.exitOutcome = o;
    this.emit({ kind: "agent_exit", ...o });
    for (const t of this.timers) clearInterval(t);
    process.off("SIGTERM", this.onSigterm);
    void this.watcher?.stop();
    return o.outcome;
  }

  async cleanup(): Promise<void> {
    await rm(`${this.cfg.checkpoint.dir}.old-${process.pid}`, { recursive: true, force: true });
  }
}
