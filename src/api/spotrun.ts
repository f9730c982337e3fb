import { homedir } from "node:os";
import { basename, join, resolve } from "node:path";
import { type Clock, systemClock } from "../base/clock.js";
import { notFound, SpotrunError, usageError } from "../base/errors.js";
import type { JobId } from "../base/ids.js";
import { type Logger, silentLogger } from "../base/logger.js";
import type { ControllerOptions } from "../core/controller.js";
import { isTerminal, type JobState } from "../core/job-state.js";
import { jobLogPath } from "../core/paths.js";
import type { Services } from "../core/services.js";
import type { UnpricedOffers } from "../providers/provider.js";
import { ProviderCache } from "../providers/registry.js";
import type { LoadedTask, LoadOptions } from "../spec/load-task.js";
import { openStateStore, STATE_URL_ENV } from "../state/open-state-store.js";
import type { JobRow, StateStore } from "../state/state-store.js";
import { controllerAlive, ensureController } from "./background-controller.js";
import type { HistoryOptions } from "./interruption-history.js";
import { costDocument } from "./job-cost.js";
import { type EventView, eventView } from "./job-events.js";
import { type LogRead, type LogReadOptions, readLog } from "./job-logs.js";
import { statusDocument } from "./job-status.js";
import { type JobView, jobView, jobViews } from "./job-view.js";
import type { JobFilter } from "./select-jobs.js";

export interface OpenOptions {
  /** The state directory; default `$SPOTRUN_HOME`, else `~/.spotrun`. */
  home?: string;
  /** A team's `postgres://` store instead of the home's SQLite; default `$SPOTRUN_STATE_URL`. Give `null` for SQLite. */
  stateUrl?: string | null;
  logger?: Logger;
  clock?: Clock;
}

export interface SubmitOptions extends LoadOptions {
  /** For a task object: where its relative paths (workdir, hook, trace) resolve from; default the cwd. */
  baseDir?: string;
  /** For a task object: the name its errors carry in place of a file's (default `task`). */
  name?: string;
}

export const defaultHome = (): string => resolve(process.env.SPOTRUN_HOME ?? join(homedir(), ".spotrun"));

/**
 * Open a spotrun home (or a team's PostgreSQL store): the library API the CLI, the dashboard and
 * the MCP server are clients of. Close it when done.
 *
 * @example
 * const sr = await openSpotrun({ home: "/tmp/h" });
 * const [job] = await sr.submit({ run: "python3 train.py", workdir: "." });
 * await sr.ensureController();
 * console.log((await sr.job(job.id)).state);
 * await sr.close();
 */
export async function openSpotrun(opts: OpenOptions = {}): Promise<Spotrun> {
  const home = opts.home ? resolve(opts.home) : defaultHome();
  const stateUrl = opts.stateUrl === null ? undefined : (opts.stateUrl ?? process.env[STATE_URL_ENV]);
  const store = await openStateStore(home, stateUrl ?? "");
  return new Spotrun(home, stateUrl || undefined, store, opts.logger ?? silentLogger, opts.clock ?? systemClock);
}

/** Which flag set a task field, if one did (spec/load-task's flagFor). */
type FlagFor = (field: string, flags: NonNullable<LoadedTask["flags"]>) => string | undefined;

/** A provider's complaint about a field, said of the flag that set it or of the file (or object) and field. */
function placeFieldError(e: unknown, loaded: LoadedTask, flagFor: FlagFor): unknown {
  if (!(e instanceof SpotrunError) || !e.field) return e;
  const flag = flagFor(e.field, loaded.flags ?? {});
  return e.within(flag ?? (loaded.source ? `${loaded.source}: ${e.field}` : e.field));
}

/**
 * Offers the provider's catalog has no price for are billed and budgeted as $0: with a budget that
 * is a budget nobody keeps, so submit refuses; without one, the job runs and the gap is a warning
 * on it (shown by `run`, `events`, `status`).
 */
function unpricedWarnings(loaded: LoadedTask, gap: UnpricedOffers | undefined, flagFor: FlagFor): string[] {
  if (!gap) return [];
  const what = `no list price for ${gap.missing.map((m) => `${m.type} in ${m.region}`).join(", ")}`;
  const budget = loaded.task.budget;
  const field = budget.max_cost !== undefined ? "budget.max_cost" : "budget.max_hourly";
  if (budget.max_cost !== undefined || budget.max_hourly !== undefined) {
    const where =
      flagFor(field, loaded.flags ?? {}) ?? `${loaded.file ? basename(loaded.file) : (loaded.source ?? "task")}: ${field}`;
    throw usageError(`${where}: ${what}, so its cost would count as $0 and the budget could not be kept`, gap.fix);
  }
  return [`${what}: its cost is reported as $0 (unknown) — ${gap.fix}`];
}

/** A task (a file path or a task object) validated, with its defaults filled, as it would be submitted; no home needed. */
export async function loadTask(task: string | object, opts: SubmitOptions = {}): Promise<LoadedTask> {
  // The schemas (zod, yaml) load with the first task, not with every `status`.
  const { loadTaskFile, loadTaskObject } = await import("../spec/load-task.js");
  return typeof task === "string"
    ? loadTaskFile(task, opts)
    : loadTaskObject(task, { ...opts, baseDir: opts.baseDir ?? process.cwd(), name: opts.name ?? "task" });
}

/** An open home: jobs are submitted, read, cancelled and driven through it. */
export class Spotrun implements Services {
  readonly providers: ProviderCache;

  constructor(
    readonly home: string,
    readonly stateUrl: string | undefined,
    readonly store: StateStore,
    readonly logger: Logger,
    readonly clock: Clock,
  ) {
    this.providers = new ProviderCache({ home, logger });
  }

  async close(): Promise<void> {
    await this.providers.closeAll();
    await this.store.close();
  }

  /** Validate a task (a file path or a task object), check it against its provider, and record it as one job (or one per array member). */
  async submit(task: string | object, opts: SubmitOptions = {}): Promise<JobView[]> {
    return this.submitLoaded(await loadTask(task, opts));
  }

  /** Submit a task already loaded with `loadTask`. */
  async submitLoaded(loaded: LoadedTask): Promise<JobView[]> {
    const [{ flagFor }, { submitJob }, { resolveResumeFrom }, { checkStoreUrl }, { probeStore }] = await Promise.all([
      import("../spec/load-task.js"),
      import("../core/submit.js"),
      import("./resume-from.js"),
      import("../checkpoints/open-store.js"),
      import("../checkpoints/probe-store.js"),
    ]);
    const provider = await this.providers.get(loaded.task.resources.provider);
    try {
      provider.validateResources?.(loaded.task.resources);
    } catch (e) {
      throw placeFieldError(e, loaded, flagFor);
    }
    const warnings = unpricedWarnings(loaded, await provider.unpriced?.(loaded.task.resources), flagFor);
    const ck = loaded.task.checkpoint;
    if (ck.resume_from) {
      const field = flagFor("checkpoint.resume_from", loaded.flags ?? {}) ?? `${loaded.source ?? "task"}: checkpoint.resume_from`;
      ck.resume_from = await resolveResumeFrom(this.store, ck.resume_from, loaded.baseDir, field);
    }
    if (ck.store) {
      // A store nothing can be written to would leave a preempted job nothing to resume from.
      const where =
        flagFor("checkpoint.store", loaded.flags ?? {}) ??
        `${loaded.file ? basename(loaded.file) : (loaded.source ?? "task")}: checkpoint.store`;
      checkStoreUrl(ck.store, where);
      const probed = await probeStore(ck.store, {
        where,
        createBucket: ck.create_bucket,
        createHint: "checkpoint.create_bucket: true (or run --create-bucket)",
      });
      if (probed?.created) this.logger.info({ store: probed.url }, "created the checkpoint store's bucket");
    }
    const ids = await submitJob(this.store, loaded, this.home, this.clock);
    for (const id of ids)
      for (const message of warnings) await this.store.appendEvent(id, this.clock.now(), { kind: "warning", message });
    return Promise.all(ids.map((id) => this.job(id)));
  }

  /** A job by id, unique id prefix or name; throws a not-found error naming the reference. */
  async jobRow(ref: string): Promise<JobRow> {
    const job = await this.store.findJob(ref);
    if (!job) throw notFound(`no job ${JSON.stringify(ref)}`, "list jobs with `spotrun status --all`");
    return job;
  }

  /** The members of an array (`arr-…`), or the one job a reference names. */
  async jobRows(ref: string): Promise<JobRow[]> {
    const members = ref.startsWith("arr-") ? await this.store.jobs({ arrayId: ref }) : [];
    return members.length ? members : [await this.jobRow(ref)];
  }

  async job(ref: string): Promise<JobView> {
    return jobView(this.store, await this.jobRow(ref), this.clock.now());
  }

  /** Active jobs (every job with `all`), newest first, or an array's members. */
  async jobs(opts: { all?: boolean; arrayId?: string } = {}): Promise<JobView[]> {
    const rows = await this.store.jobs({ active: !opts.all, ...(opts.arrayId ? { arrayId: opts.arrayId } : {}) });
    const now = this.clock.now();
    return jobViews(this.store, rows, now);
  }

  /** The controller(s), the jobs (active, and finished in the last 24 h, unless the filter says otherwise) and their arrays: what `spotrun status --json` prints. */
  status(opts: JobFilter = {}) {
    return statusDocument(this.store, this.clock.now(), opts);
  }

  /** Ask for jobs (or whole arrays) to be cancelled; their instances are torn down by the controller, checkpoints kept. Returns the ids asked. */
  async cancel(refs: string[]): Promise<JobId[]> {
    const ids: JobId[] = [];
    for (const ref of refs) {
      for (const j of await this.jobRows(ref)) {
        if (isTerminal(j.state)) continue;
        await this.store.transaction(async (tx) => {
          await tx.updateJob(j.id, { desired: "cancel" });
          await tx.appendEvent(j.id, this.clock.now(), { kind: "cancel_requested" });
        });
        ids.push(j.id);
      }
    }
    return ids;
  }

  /** A job's events after sequence number `afterSeq` (a previous call's `next_seq`), oldest first. */
  async events(
    ref: string,
    opts: { afterSeq?: number; limit?: number } = {},
  ): Promise<{ id: string; state: JobState; events: EventView[]; next_seq: number }> {
    const job = await this.jobRow(ref);
    let rows = await this.store.events(job.id, opts.afterSeq ?? 0);
    if (opts.limit !== undefined) rows = rows.slice(0, opts.limit);
    return { id: job.id, state: job.state, events: rows.map(eventView), next_seq: rows.at(-1)?.seq ?? opts.afterSeq ?? 0 };
  }

  /** A job's collected output: all of it, the last `tail` lines, or what came after byte offset `since`. */
  async logs(ref: string, opts: LogReadOptions = {}): Promise<LogRead & { id: string; state: JobState }> {
    const job = await this.jobRow(ref);
    const complete = isTerminal(job.state);
    return { id: job.id, state: job.state, ...readLog(jobLogPath(this.home, job.id), { ...opts, complete }) };
  }

  /** Spend, on-demand baseline and savings per job and in total: of one job or array, or of every job. */
  async cost(ref?: string) {
    return costDocument(this.store, ref ? await this.jobRows(ref) : await this.store.jobs(), this.clock.now());
  }

  /** Interruption history per capacity pool: instance-hours, preemptions and the rate estimated from them. */
  async history(opts: HistoryOptions = {}) {
    const { historyDocument } = await import("./interruption-history.js");
    return historyDocument(this.store, this.clock.now(), opts);
  }

  /** Whether a live controller works this store now. */
  controllerAlive(): Promise<boolean> {
    return controllerAlive(this.store, this.clock.now());
  }

  /** Start a background controller for this store if jobs are active and none is alive; it exits when idle. */
  ensureController(): Promise<boolean> {
    return ensureController(this, this.home, this.stateUrl);
  }

  /** Run the controller in this process until `signal` aborts (or, with `exitWhenIdle`, no job is active). */
  async runController(
    opts: { signal?: AbortSignal; exitWhenIdle?: boolean; until?: () => Promise<boolean> } & Pick<
      ControllerOptions,
      "maxJobs"
    > = {},
  ) {
    const { signal, exitWhenIdle, until, ...tuning } = opts;
    const [{ Controller }, { notifierFor }] = await Promise.all([import("../core/controller.js"), import("./notifier-for.js")]);
    const c = new Controller({
      store: this.store,
      providers: this.providers,
      home: this.home,
      clock: this.clock,
      logger: this.logger,
      companions: [notifierFor(this)],
      ...tuning,
    });
    return c.run({ ...(signal ? { signal } : {}), ...(exitWhenIdle ? { exitWhenIdle } : {}), ...(until ? { until } : {}) });
  }

  /** Wait until these jobs end, driving them from this process whenever no other controller does. */
  async waitUntilDone(ids: readonly JobId[], signal: AbortSignal): Promise<void> {
    const { driveUntilDone } = await import("./drive-jobs.js");
    return driveUntilDone(this, ids, signal);
  }
}
