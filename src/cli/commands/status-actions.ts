/** What `spotrun status` does, imported only when it runs (its flags are defined in status.ts). */
import type { JobView } from "../../api/job-view.js";
import { formatDuration, parseDuration } from "../../base/duration.js";
import { notFound, usageError } from "../../base/errors.js";
import { formatPct, formatUsd } from "../../cost/ledger.js";
import { type App, openApp } from "../app.js";
import type { CommandContext, CommandResult } from "../command.js";
import { paintState, stdoutColor, table } from "../output.js";

/** `--since 6h` (that long ago) or `--since 2026-01-01T00:00:00Z` (a time). */
export function parseSince(v: string, now: number): number {
  const ago = parseDuration(v);
  if (ago !== undefined) return now - ago;
  const t = Date.parse(v);
  if (Number.isNaN(t))
    throw usageError(`--since ${v}: expected a duration such as 6h or 2d, or an RFC 3339 time`, "e.g. --since 6h");
  return t;
}

async function watch(ctx: CommandContext, render: () => Promise<CommandResult>): Promise<CommandResult> {
  const stop = new AbortController();
  const onInt = () => stop.abort();
  process.once("SIGINT", onInt);
  ctx.signal.addEventListener("abort", onInt, { once: true });
  try {
    while (!stop.signal.aborted) {
      const r = await render();
      if (ctx.json) process.stdout.write(`${JSON.stringify(r.data)}\n`);
      else process.stdout.write(`${process.stdout.isTTY ? "\x1b[H\x1b[2J" : ""}${new Date().toISOString()}\n${r.human ?? ""}\n`);
      await new Promise<void>((done) => {
        const t = setTimeout(done, 2000);
        stop.signal.addEventListener(
          "abort",
          () => {
            clearTimeout(t);
            done();
          },
          { once: true },
        );
      });
    }
  } finally {
    process.off("SIGINT", onInt);
  }
  return {};
}

async function statusOnce(
  app: App,
  ref: string | undefined,
  opts: Record<string, unknown>,
  json: boolean,
): Promise<CommandResult> {
  const color = stdoutColor();
  let arrayId = opts.array === undefined ? undefined : String(opts.array);
  if (ref && !arrayId) {
    if ((await app.store.jobs({ arrayId: ref, limit: 1 })).length) arrayId = ref;
    else {
      const v = await app.job(ref);
      return { data: v, human: oneJob(v, color) };
    }
  }
  const now = app.clock.now();
  const data = await app.status({
    all: Boolean(opts.all) || arrayId !== undefined,
    ...(opts.since !== undefined ? { sinceMs: parseSince(String(opts.since), now) } : {}),
    ...(arrayId ? { arrayId } : {}),
  });
  if (arrayId && data.jobs.length === 0) throw notFound(`no job array ${arrayId}`, "list arrays with `spotrun status --all`");
  // The table is for a person: --json (an agent polling) never measures 10 columns of 1,000 rows.
  if (json) return { data };
  const rows = data.jobs.map((v) => [
    v.id,
    v.name,
    paintState(v.state, color),
    v.submitted_at.replace("T", " ").replace("Z", ""),
    formatDuration(v.duration_seconds * 1000),
    v.attempts,
    v.preemptions,
    v.current_attempt
      ? `#${v.current_attempt.number} ${v.current_attempt.spot ? "spot" : "od"} ${v.current_attempt.instance_type}`
      : "-",
    formatUsd(v.cost_usd),
    formatUsd(v.savings_usd),
  ]);
  const arrayLines = data.arrays.map(
    (a) =>
      `array ${a.id}: ${a.members} members — ${Object.entries(a.states)
        .map(([s, n]) => `${n} ${paintState(s, color)}`)
        .join(", ")} — cost ${formatUsd(a.cost_usd)}`,
  );
  const window = opts.all ? "" : opts.since !== undefined ? ` since ${opts.since}` : " in the last 24 h";
  const human = data.jobs.length
    ? [
        await table(
          ["ID", "NAME", "STATE", "SUBMITTED (UTC)", "DURATION", "ATTEMPTS", "PREEMPT", "CAPACITY", "COST", "SAVED"],
          rows,
        ),
        ...arrayLines,
      ].join("\n")
    : opts.all
      ? "no jobs yet — start one with: spotrun run examples/quickstart/task.yaml"
      : `no active jobs, and none finished${window} (spotrun status --all shows every job)`;
  return { data, human };
}

function checkpointLine(v: JobView): string {
  const c = v.checkpoints;
  if (!c.last_generation) return ": none uploaded yet";
  return `: ${c.uploaded} uploaded, newest ${c.last_generation} at ${c.last_uploaded_at}`;
}

/** A failed upload is said as loudly as the state: a preemption now would not resume from it. */
function failureLine(v: JobView): string {
  const f = v.checkpoints.last_failure;
  if (!f) return "";
  const when = `${f.attempt === null ? "" : `attempt ${f.attempt + 1}, `}${f.at}`;
  return v.checkpoints.failing
    ? `  CHECKPOINT UPLOAD FAILING (${v.checkpoints.failed} failed, last ${when}): ${f.cause}`
    : `  ${v.checkpoints.failed} checkpoint upload(s) failed, the last (${when}) with: ${f.cause}; uploads since succeeded`;
}

function oneJob(v: JobView, color: boolean): string {
  const c = v.current_attempt;
  return [
    `${v.id}  ${v.name}  ${paintState(v.state, color)}`,
    v.message ? `  ${v.message}` : "",
    `  submitted ${v.submitted_at}, ${v.ended_at ? "ran" : "running for"} ${formatDuration(v.duration_seconds * 1000)}`,
    `  attempts ${v.attempts}, preemptions ${v.preemptions}, error restarts ${v.error_restarts}`,
    "controller" in v ? `  controller ${v.controller ?? "none holds it now"}` : "",
    c
      ? `  attempt ${c.number}: ${c.spot ? "spot" : "on-demand"} ${c.instance_type} ${c.instance_ids.join(", ")} (${c.state})`
      : "",
    `  cost ${formatUsd(v.cost_usd)} (on-demand would be ${formatUsd(v.on_demand_baseline_usd)}, saved ${formatUsd(v.savings_usd)}, ${formatPct(v.savings_pct)})`,
    `  checkpoints ${v.checkpoint_store}${checkpointLine(v)}`,
    failureLine(v),
  ]
    .filter(Boolean)
    .join("\n");
}

export async function status(ctx: CommandContext, args: string[], opts: Record<string, unknown>): Promise<CommandResult> {
  const app = await openApp(ctx);
  try {
    await app.ensureController();
    if (!opts.watch) return await statusOnce(app, args[0], opts, ctx.json);
    return await watch(ctx, () => statusOnce(app, args[0], opts, ctx.json));
  } finally {
    await app.close();
  }
}
