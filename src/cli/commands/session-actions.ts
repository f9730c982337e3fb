/** The `spotrun session …` commands: persistent agent sessions on spot capacity. Imported when the command runs (its definition is in session.ts). */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { homedir } from "node:os";
import { createInterface } from "node:readline/promises";
import { formatDuration } from "../../base/duration.js";
import { ExitCode, notFound, SpotrunError, usageError } from "../../base/errors.js";
import { InstanceId } from "../../base/ids.js";
import { jobLogPath } from "../../core/paths.js";
import { formatUsd } from "../../cost/ledger.js";
import { deleteProviderVolume } from "../../sessions/provider-volume.js";
import {
  cancelJob,
  estimateSize,
  isActive,
  latestJob,
  refuseIfActive,
  requestStop,
  submitSessionJob,
  supervisorSpec,
  waitTerminal,
} from "../../sessions/session-lifecycle.js";
import { listSessions, readSession, removeSession, requireSession, type SessionRecord } from "../../sessions/session-registry.js";
import { loadSessionFile, parseSessionText, SESSION_NAME, type SessionFile } from "../../sessions/session-schema.js";
import { gcpDiskName } from "../../sessions/session-task.js";
import { sessionView } from "../../sessions/session-view.js";
import { formatSize, parseSize } from "../../sessions/size.js";
import { tmuxSocketArgs } from "../../sessions/supervisor-spec.js";
import { localVolumeDir, usedBytes } from "../../sessions/volume.js";
import { interactiveSshArgs } from "../../transport/ssh/interactive-ssh.js";
import type { SshTarget } from "../../transport/ssh/ssh-target.js";
import { openApp } from "../app.js";
import type { CommandContext, CommandResult } from "../command.js";
import { followJob } from "../follow-job.js";
import { table } from "../output.js";

function checkName(name: string): string {
  if (!SESSION_NAME.test(name))
    throw usageError(`session name ${JSON.stringify(name)} is not valid`, "use letters, digits, '_' or '-', at most 40");
  return name;
}

/** `--agent NAME=COMMAND` and friends, as a session document validated by the same schema as a file. */
function sessionFromFlags(opts: Record<string, unknown>): { session: SessionFile; file: string | null; baseDir: string } {
  const agents = ((opts.agent as string[] | undefined) ?? []).map((kv) => {
    const i = kv.indexOf("=");
    if (i <= 0) throw usageError(`--agent ${kv} is not NAME=COMMAND`);
    return { name: kv.slice(0, i), command: kv.slice(i + 1) };
  });
  const resources: Record<string, unknown> = {};
  if (opts.provider !== undefined) resources.provider = opts.provider;
  if (opts.instanceType !== undefined) resources.instance_type = opts.instanceType;
  if (opts.spot !== undefined) resources.spot = opts.spot;
  const doc = {
    resources,
    // An unquoted `~/x` reaches us expanded by the shell; it meant the instance's HOME, not this one.
    persist: ((opts.persist as string[] | undefined) ?? []).map((p) =>
      p.startsWith(`${homedir()}/`) ? `~/${p.slice(homedir().length + 1)}` : p,
    ),
    agents,
    ...(opts.snapshotInterval !== undefined ? { snapshot_interval: opts.snapshotInterval } : {}),
    ...(opts.volumeSize !== undefined ? { volume: { size: opts.volumeSize } } : {}),
  };
  return { session: parseSessionText(JSON.stringify(doc), "flags"), file: null, baseDir: process.cwd() };
}

async function loadSession(opts: Record<string, unknown>) {
  if (opts.task) {
    const l = await loadSessionFile(String(opts.task));
    const s = { ...l.session };
    if (opts.volumeSize !== undefined) {
      const size = parseSize(String(opts.volumeSize));
      if (size === undefined) throw usageError(`--volume-size ${opts.volumeSize} is not a size`, "write it like 10GB or 512MB");
      s.volume = { size };
    }
    return { session: s, file: l.file as string | null, baseDir: l.baseDir };
  }
  return sessionFromFlags(opts);
}

/**
 * A tmux command on the session's server: here, or over the person's own ssh on its current
 * instance. `terminal`: on the person's terminal (attach); otherwise its output is captured.
 */
async function runSessionTmux(ctx: CommandContext, name: string, rec: SessionRecord, args: string[], terminal: boolean) {
  const tmux = ["tmux", ...tmuxSocketArgs(supervisorSpec(ctx.home, name, rec.session).tmux), ...args];
  const target = await sessionSshTarget(ctx, name, rec);
  const [cmd, ...argv] = target ? ["ssh", ...interactiveSshArgs(target, tmux, { tty: terminal })] : tmux;
  const res = spawnSync(cmd as string, argv, terminal ? { stdio: "inherit", encoding: "utf8" } : { encoding: "utf8" });
  if (res.error)
    throw usageError(
      `cannot run ${cmd}: ${res.error.message}`,
      target ? "install the OpenSSH client (apt-get install openssh-client)" : "install tmux (apt-get install tmux)",
    );
  // ssh itself failed: the instance, not the session's tmux, is what is missing.
  if (target && res.status === 255)
    throw new SpotrunError("failed", `cannot reach session ${name}'s instance over SSH (${target.label ?? target.host})`, {
      fix: "see its state with `spotrun session list`; a recovering session is back on a new instance shortly",
    });
  return { res, target };
}

/**
 * Where the session's tmux is reached over SSH: its current instance, when the provider reaches
 * instances over SSH (clouds, the local provider's SSH mode). Undefined: a local tmux.
 */
async function sessionSshTarget(ctx: CommandContext, name: string, rec: SessionRecord): Promise<SshTarget | undefined> {
  const resources = rec.session.resources;
  if (resources.provider === "local" && !resources.market?.ssh) return undefined;
  const app = await openApp(ctx);
  try {
    const view = await sessionView(app.store, rec, app.clock.now());
    if (!view.instance_id)
      throw new SpotrunError("failed", `session ${name} has no running instance (${view.state})`, {
        fix: "wait for it to come back (`spotrun session list`) or resume it with `spotrun session resume`",
      });
    const provider = await app.providers.get(resources.provider);
    const [info] = await provider.describe([InstanceId(view.instance_id)]);
    const target = info && info.status !== "terminated" ? await provider.sshTarget?.(info) : undefined;
    if (!target)
      throw new SpotrunError("failed", `session ${name}'s instance ${view.instance_id} cannot be reached over SSH`, {
        fix: "see its state with `spotrun session list` (it may be recovering)",
      });
    return target;
  } finally {
    await app.close();
  }
}

async function stopAndWait(ctx: CommandContext, name: string) {
  const rec = requireSession(ctx.home, name);
  const app = await openApp(ctx);
  try {
    const path = await requestStop(app, rec);
    const job = await latestJob(app, rec);
    await app.ensureController();
    if (job && path !== "already_stopped") {
      const budget = rec.session.save_budget + 60_000;
      if (!(await waitTerminal(app, job.id, budget, ctx.signal))) {
        ctx.out.warn(`session ${name} did not stop within ${formatDuration(budget)}; cancelling its job`);
        await cancelJob(app, job.id);
        await app.ensureController();
        await waitTerminal(app, job.id, 60_000, ctx.signal);
      }
    }
    return { path, view: await sessionView(app.store, rec, app.clock.now()) };
  } finally {
    await app.close();
  }
}

export async function sessionStart(ctx: CommandContext, args: string[], opts: Record<string, unknown>): Promise<CommandResult> {
  const name = checkName(args[0] as string);
  const loaded = await loadSession(opts);
  const app = await openApp(ctx);
  try {
    const existing = readSession(ctx.home, name);
    if (existing) refuseIfActive(ctx.home, name, await isActive(app, existing));
    const est = await estimateSize(ctx.home, name, loaded.session);
    if (est.warn)
      ctx.out.warn(
        `the persisted paths already hold ${formatSize(est.estimate_bytes)}, over ${Math.round(100 * 0.8)}% of the ${formatSize(est.size_bytes)} volume — start with --volume-size ${formatSize(est.suggested_bytes).replace(" ", "")} or grow it later with \`spotrun volume resize ${name} SIZE\``,
      );
    const id = await submitSessionJob(app, ctx.home, {
      version: 1,
      name,
      created_at: app.clock.now(),
      file: loaded.file,
      base_dir: loaded.baseDir,
      session: loaded.session,
    });
    await app.ensureController();
    const view = await sessionView(app.store, requireSession(ctx.home, name), app.clock.now());
    return {
      data: { ...view, volume: { size_bytes: est.size_bytes, estimate_bytes: est.estimate_bytes, warn: est.warn } },
      human: `session ${name} starting as job ${id} (${loaded.session.agents.map((a) => a.name).join(", ")}); volume ${formatSize(est.size_bytes)}, ${formatSize(est.estimate_bytes)} in use\nattach: spotrun session attach ${name}    list: spotrun session list`,
    };
  } finally {
    await app.close();
  }
}

export async function sessionList(ctx: CommandContext): Promise<CommandResult> {
  const app = await openApp(ctx);
  try {
    await app.ensureController();
    const now = app.clock.now();
    const views = await Promise.all(listSessions(ctx.home).map((r) => sessionView(app.store, r, now)));
    const human = views.length
      ? await table(
          ["SESSION", "STATE", "INSTANCE", "UPTIME", "INTERRUPTIONS", "COST", "NOTE"],
          views.map((v) => [
            v.name,
            v.state,
            v.instance_id ?? "-",
            v.uptime_seconds ? formatDuration(v.uptime_seconds * 1000) : "-",
            v.interruptions,
            formatUsd(v.cost_usd),
            v.away_seconds !== null ? `away for ${v.away_seconds}s after a recovery` : "",
          ]),
        )
      : "no sessions — start one with `spotrun session start NAME --task SESSION.yaml`";
    return { data: { sessions: views }, human };
  } finally {
    await app.close();
  }
}

export async function sessionAttach(ctx: CommandContext, args: string[], opts: Record<string, unknown>): Promise<CommandResult> {
  const name = args[0] as string;
  const rec = requireSession(ctx.home, name);
  const agent = args[1] ?? rec.session.agents[0]?.name;
  if (agent && !rec.session.agents.some((a) => a.name === agent))
    throw notFound(`session ${name} has no agent ${agent}`, `its agents: ${rec.session.agents.map((a) => a.name).join(", ")}`);
  const { res, target } = await runSessionTmux(
    ctx,
    name,
    rec,
    ["attach-session", ...(opts.readOnly ? ["-r"] : []), "-t", `${name}:${agent}`],
    true,
  );
  if (res.status !== 0)
    throw new SpotrunError("failed", `session ${name} has no running tmux ${target ? "on its instance" : "here"}`, {
      fix: "see its state with `spotrun session list` (it may be recovering)",
    });
  return {};
}

export async function sessionLogs(ctx: CommandContext, args: string[], opts: Record<string, unknown>): Promise<CommandResult> {
  const name = args[0] as string;
  const rec = requireSession(ctx.home, name);
  if (opts.agent) {
    const { res } = await runSessionTmux(ctx, name, rec, ["capture-pane", "-p", "-S", "-", "-t", `${name}:${opts.agent}`], false);
    if (res.status !== 0) throw notFound(`no running window ${opts.agent} in session ${name}`, "see `spotrun session list`");
    return { data: { id: name, agent: opts.agent, screen: res.stdout }, human: res.stdout };
  }
  const app = await openApp(ctx);
  try {
    await app.ensureController();
    if (opts.follow) {
      const job = await latestJob(app, rec);
      if (!job) return {};
      await followJob(app.store, ctx.home, job.id, ctx.out, { signal: ctx.signal });
      return {};
    }
    const parts: string[] = [];
    const steps: unknown[] = [];
    for (const id of rec.job_ids) {
      try {
        parts.push(readFileSync(jobLogPath(ctx.home, id), "utf8"));
      } catch {}
      for (const e of await app.store.events(id))
        if (e.kind === "session_step") {
          const d = JSON.parse(e.data) as { attempt: number; step: string; ms: number; detail?: string };
          steps.push({ job_id: id, at: new Date(e.at).toISOString(), ...d });
          parts.push(`[session] attempt ${d.attempt} ${d.step} ${d.ms} ms${d.detail ? ` — ${d.detail}` : ""}\n`);
        }
    }
    return { data: { id: name, log: parts.join(""), steps }, human: parts.join("") };
  } finally {
    await app.close();
  }
}

export async function sessionStop(ctx: CommandContext, args: string[]): Promise<CommandResult> {
  const { path, view } = await stopAndWait(ctx, args[0] as string);
  const how =
    path === "saved"
      ? "saved and stopped"
      : path === "cancelled"
        ? "stopped (it had no running instance to save)"
        : "already stopped";
  return {
    data: { ...view, stop: path },
    human: `session ${view.name}: ${how}; resume with \`spotrun session resume ${view.name}\``,
  };
}

export async function sessionResume(ctx: CommandContext, args: string[], opts: Record<string, unknown>): Promise<CommandResult> {
  const name = args[0] as string;
  const rec = requireSession(ctx.home, name);
  const app = await openApp(ctx);
  try {
    if (await isActive(app, rec))
      throw usageError(`session ${name} is still running`, `attach with \`spotrun session attach ${name}\``);
    const next = opts.task ? await loadSessionFile(String(opts.task)) : undefined;
    const id = await submitSessionJob(app, ctx.home, {
      ...rec,
      ...(next ? { session: next.session, file: next.file, base_dir: next.baseDir } : {}),
    });
    await app.ensureController();
    const view = await sessionView(app.store, requireSession(ctx.home, name), app.clock.now());
    return { data: view, human: `session ${name} resuming as job ${id}` };
  } finally {
    await app.close();
  }
}

export async function sessionDestroy(ctx: CommandContext, args: string[], opts: Record<string, unknown>): Promise<CommandResult> {
  const name = args[0] as string;
  const rec = requireSession(ctx.home, name);
  const volume = localVolumeDir(ctx.home, name);
  const used = await usedBytes(volume);
  if (!opts.yes) {
    if (!process.stdin.isTTY || ctx.json)
      throw usageError(`destroying session ${name} deletes its volume (${formatSize(used)})`, "confirm with --yes");
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    const answer = (await rl.question(`Delete session ${name} and its volume ${volume} (${formatSize(used)})? [y/N] `))
      .trim()
      .toLowerCase();
    rl.close();
    if (answer !== "y" && answer !== "yes") return { data: { id: name, destroyed: false }, human: "kept", exitCode: ExitCode.ok };
  }
  await stopAndWait(ctx, name);
  if (rec.session.resources.provider === "local") await rm(volume, { recursive: true, force: true });
  else if (rec.session.resources.provider === "gcp") {
    const app = await openApp(ctx);
    try {
      await deleteProviderVolume(await app.providers.get("gcp"), gcpDiskName(name));
    } finally {
      await app.close();
    }
  }
  await removeSession(ctx.home, name);
  return {
    data: { id: name, destroyed: true, volume_bytes: used },
    human: `session ${name} destroyed (volume ${formatSize(used)} deleted)`,
  };
}
