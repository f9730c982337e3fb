/** `spotrun run`: a task file, a script or a command after `--`, submitted as a managed job and followed until it ends. Imported when the command runs (its definition is in run.ts). */
import { existsSync, statSync } from "node:fs";
import { createInterface } from "node:readline/promises";
import { stringify } from "yaml";
import { ExitCode, SpotrunError, usageError } from "../../base/errors.js";
import type { JobId } from "../../base/ids.js";
import { applyUserDefaults } from "../../config/apply-user-defaults.js";
import { loadUserConfig } from "../../config/load-user-config.js";
import type { JobState } from "../../core/job-state.js";
import { formatPct, formatUsd } from "../../cost/ledger.js";
import { FlagValue, loadTaskFile, loadTaskObject, type Overrides } from "../../spec/load-task.js";
import { quickTask, withArgs } from "../../spec/quick-task.js";
import { MAX_ARRAY_COUNT, MAX_INTERRUPTIONS } from "../../spec/task-limits.js";
import { type App, openApp } from "../app.js";
import type { CommandContext, CommandResult } from "../command.js";
import { durationFlag, envFlag, positiveAmount, wholeNumber } from "../flags.js";
import { followJob } from "../follow-job.js";

/** The flags that override task fields, each checked here and tagged, so an error about its field names the flag. */
function overridesFrom(opts: Record<string, unknown>): Overrides {
  const o: Overrides = {};
  const set = (field: string, flag: string, value: unknown) => {
    if (value !== undefined) o[field] = new FlagValue(flag, value);
  };
  const given = (k: string) => opts[k] !== undefined;
  set("name", "--name", opts.name);
  set("resources.provider", "--provider", opts.provider);
  set("resources.instance_type", "--instance-type", opts.instanceType);
  if (given("instanceTypes")) set("resources.instance_types", "--instance-types", String(opts.instanceTypes).split(","));
  set("resources.spot", opts.spot ? "--spot" : "--no-spot", opts.spot);
  if (given("maxPrice")) set("resources.max_price", "--max-price", positiveAmount("--max-price", opts.maxPrice));
  set("resources.fallback_on_demand", "--fallback-on-demand", opts.fallbackOnDemand);
  set("resources.region", "--region", opts.region);
  if (given("numNodes")) set("num_nodes", "--num-nodes", wholeNumber("--num-nodes", opts.numNodes, { min: 1, max: 1024 }));
  if (given("maxCost")) set("budget.max_cost", "--max-cost", positiveAmount("--max-cost", opts.maxCost));
  if (given("maxHourly")) set("budget.max_hourly", "--max-hourly", positiveAmount("--max-hourly", opts.maxHourly));
  if (given("maxRestarts"))
    set("recovery.max_restarts", "--max-restarts", wholeNumber("--max-restarts", opts.maxRestarts, { min: 0, max: 10_000 }));
  if (given("count")) set("array.count", "--count", wholeNumber("--count", opts.count, { min: 1, max: MAX_ARRAY_COUNT }));
  if (given("spotCount"))
    set("array.spot_count", "--spot-count", wholeNumber("--spot-count", opts.spotCount, { min: 0, max: MAX_ARRAY_COUNT }));
  const interruptions = wholeNumber("--interruptions", opts.interruptions ?? 3, { min: 0, max: MAX_INTERRUPTIONS });
  if (given("interruptEvery")) {
    const every = durationFlag("--interrupt-every", opts.interruptEvery);
    set(
      "resources.market.interrupt_after",
      "--interrupt-every",
      Array.from({ length: interruptions }, () => `${every}ms`),
    );
  }
  if (given("notice")) set("resources.market.notice", "--notice", `${durationFlag("--notice", opts.notice)}ms`);
  set("resources.tpu", "--tpu", opts.tpu);
  set("resources.zone", "--zone", opts.zone);
  set("resources.accelerators", "--gpus", opts.gpus);
  set("checkpoint.store", "--store", opts.store);
  set("checkpoint.create_bucket", "--create-bucket", opts.createBucket);
  set("checkpoint.resume_from", "--resume-from", opts.resumeFrom);
  set("setup", "--setup", opts.setup);
  for (const kv of (opts.env as string[] | undefined) ?? []) {
    const [key, value] = envFlag(kv);
    set(`envs.${key}`, "--env", value);
  }
  return o;
}

/**
 * A quick run's script: `.py` or `.sh`, or an executable file. Anything else (a `.yaml`, a
 * directory, a file that is not executable) is read as a task file and refused as one if it is not.
 */
function isScript(target: string): boolean {
  if (/\.ya?ml$/i.test(target)) return false;
  if (/\.(py|sh)$/i.test(target)) return true;
  try {
    const st = statSync(target);
    return st.isFile() && (st.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** The task a quick run builds from the cwd: a script (with the words after -- as its arguments) or the command after --. */
function quickRunTask(script: string | undefined, rest: string[], opts: Record<string, unknown>): Record<string, unknown> {
  if (script === undefined && rest.length === 0)
    throw usageError(
      "nothing to run",
      "give a task file (run task.yaml), a script (run train.py), or a command after -- (run -- python train.py)",
    );
  if (script !== undefined && !existsSync(script))
    throw new SpotrunError("not_found", `no script ${JSON.stringify(script)} in ${process.cwd()}`, {
      fix: "run it from the directory that holds it (that directory is the workdir), or give a task file",
    });
  const doc = quickTask({
    ...(script !== undefined ? { script } : { command: rest }),
    ...(opts.setup !== undefined ? { setup: String(opts.setup) } : {}),
    hasRequirements: existsSync("requirements.txt"),
  });
  if (script !== undefined) doc.run = withArgs(String(doc.run), rest);
  return doc;
}

export function exitCodeFor(state: JobState, lastEnd: string | null): number {
  if (state === "SUCCEEDED") return ExitCode.ok;
  if (state === "FAILED" && lastEnd === "launch_failed") return ExitCode.providerRefused;
  return ExitCode.failed;
}

async function summary(app: App, ids: readonly JobId[]): Promise<CommandResult> {
  const views = await Promise.all(ids.map((id) => app.job(id)));
  const lines = views.map(
    (v) =>
      `${v.id} ${v.name}: ${v.state} after ${v.attempts} attempt(s), ${v.preemptions} preemption(s) — cost ${formatUsd(v.cost_usd)}, on-demand ${formatUsd(v.on_demand_baseline_usd)}, saved ${formatUsd(v.savings_usd)} (${formatPct(v.savings_pct)})${
        // A job that did not succeed says why, on the line after.
        v.state !== "SUCCEEDED" && v.message ? `\n  ${v.message}` : ""
      }`,
  );
  const worst = views.map((v) => exitCodeFor(v.state, v.current_attempt?.end ?? null)).find((c) => c !== 0) ?? 0;
  return { data: views.length === 1 ? views[0] : views, human: lines.join("\n"), exitCode: worst };
}

/** Ctrl-C on a foreground run: keep the job in the background, or tear it down. Never leaves an instance unaccounted for. */
async function onInterrupt(app: App, ids: readonly JobId[], ctx: CommandContext): Promise<"keep" | "cancel"> {
  if (!process.stdin.isTTY || ctx.json) return "keep";
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  const answer = (
    await rl.question("\nKeep the job running in the background [k] or cancel it and tear down its instances [c]? [k] ")
  )
    .trim()
    .toLowerCase();
  rl.close();
  if (answer.startsWith("c")) {
    for (const id of ids) await app.store.updateJob(id, { desired: "cancel" });
    return "cancel";
  }
  return "keep";
}

export async function runJob(ctx: CommandContext, args: string[], opts: Record<string, unknown>): Promise<CommandResult> {
  const { config } = loadUserConfig(ctx.home);
  const rest = ctx.rest ?? [];
  const before = args.slice(0, args.length - rest.length);
  if (before.length > 1)
    throw usageError(
      `run takes one task file or script, got ${before.map((a) => JSON.stringify(a)).join(" ")}`,
      "put the program's own arguments after --",
    );
  const target = before[0];
  const fromFile = target !== undefined && !isScript(target);
  const overrides = overridesFrom(opts);
  if (!fromFile && opts.tpu !== undefined && opts.provider === undefined)
    overrides["resources.provider"] = new FlagValue("--tpu", "gcp");
  const defaults = (raw: Record<string, unknown>) => applyUserDefaults(raw, config);
  // The task is read by the spec alone: a bad one is refused before the library (store, controller) loads.
  const loaded = fromFile
    ? await loadTaskFile(target, { overrides, args: rest, defaults })
    : loadTaskObject(quickRunTask(target, rest, opts), {
        overrides,
        defaults,
        baseDir: process.cwd(),
        name: "the command line",
      });
  if (opts.printTask) {
    const doc = loaded.doc ?? {};
    return { data: doc, human: stringify(doc) };
  }
  const app = await openApp(ctx);
  try {
    const submitted = await app.submitLoaded(loaded);
    const ids = submitted.map((v) => v.id);
    if (opts.detach) {
      // What submit said about the job (e.g. an offer without a price) is said here too; a followed run prints its events.
      const first = ids[0];
      if (first) for (const e of (await app.events(first)).events) if (e.kind === "warning") ctx.out.warn(String(e.message));
      await app.ensureController();
      const views = await Promise.all(ids.map((id) => app.job(id)));
      return {
        data: views.length === 1 ? views[0] : views,
        human: ids.map((id) => `${id} submitted — follow with: spotrun logs ${id} --follow`).join("\n"),
      };
    }
    ctx.out.info(`[spotrun] job ${ids.join(", ")} submitted (${loaded.task.name}); Ctrl-C to detach or cancel`);
    const stop = new AbortController();
    let interrupted = false;
    const onSigint = () => {
      interrupted = true;
      stop.abort();
    };
    process.on("SIGINT", onSigint);
    ctx.signal.addEventListener("abort", () => stop.abort(), { once: true });
    // Drive the jobs here whenever no other controller owns this store (and take over if that one
    // goes away); otherwise just follow them.
    const driving = app.waitUntilDone(ids, stop.signal);
    await Promise.all(ids.map((id) => followJob(app.store, ctx.home, id, ctx.out, { signal: stop.signal })));
    stop.abort();
    await driving.catch(() => {});
    process.off("SIGINT", onSigint);
    if (interrupted) {
      const choice = await onInterrupt(app, ids, ctx);
      await app.ensureController();
      ctx.out.info(
        choice === "keep"
          ? `[spotrun] ${ids.join(", ")} keeps running in the background — spotrun logs ${ids[0]} --follow; spotrun cancel ${ids[0]}`
          : `[spotrun] cancelling ${ids.join(", ")}; its instances are being torn down`,
      );
      const res = await summary(app, ids);
      return { ...res, exitCode: ExitCode.interrupted };
    }
    await app.ensureController();
    return await summary(app, ids);
  } finally {
    await app.close();
  }
}
