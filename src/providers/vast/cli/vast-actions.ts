/**
 * `spotrun vast …`: each step of the Vast flow on its own (provision, wait, ssh-url, logs,
 * stop/start/reboot, change bid, destroy, list), for people and scripts that drive the steps
 * themselves. Finding offers is `spotrun offers QUERY --provider vast`. What the commands do,
 * imported only when one runs (their flags are defined in vast-commands.ts).
 */
import { systemClock, toIso } from "../../../base/clock.js";
import { parseDuration } from "../../../base/duration.js";
import { SpotrunError, usageError } from "../../../base/errors.js";
import type { CommandContext, CommandResult } from "../../../cli/command.js";
import { table } from "../../../cli/output.js";
import { VastClient } from "../client.js";
import { classify, statusOf } from "../instance-state.js";
import { metaOf, tagsOf } from "../instance-tags.js";
import { acceleratorName } from "../offer-mapping.js";
import { sshEndpoint, sshUrl } from "../ssh-target.js";
import { VastApiError } from "../vast-api-error.js";
import { InstanceStartError, waitForRunning } from "../wait-for-running.js";
import type { CreateInstanceBody, VastInstance } from "../wire.js";

const clientFor = (ctx: CommandContext) => VastClient.fromConfig(ctx.home);

const idArg = (s: string | undefined, what = "instance"): number => {
  const n = Number(s);
  if (!s || !Number.isInteger(n) || n <= 0)
    throw usageError(`${what} id must be a number, got "${s ?? ""}"`, `see: spotrun vast instances`);
  return n;
};

const priceArg = (s: unknown, flag: string): number => {
  const n = Number(s);
  if (!Number.isFinite(n) || n <= 0)
    throw usageError(`${flag} must be a price in $/h, got "${String(s)}"`, `write e.g. ${flag} 0.25`);
  return n;
};

/** One instance as `--json` shows it: snake_case, RFC 3339 times, money in `_usd`. */
export function instanceView(i: VastInstance) {
  const meta = metaOf(i);
  const spot = meta.spot ?? i.is_bid === true;
  const c = classify(i, spot);
  const ep = sshEndpoint(i);
  return {
    id: String(i.id),
    label: i.label ?? null,
    status: statusOf(c),
    actual_status: i.actual_status,
    intended_status: i.intended_status,
    status_msg: i.status_msg ?? null,
    interrupted: c.kind === "interrupted" ? c.reason : c.kind === "disk_full" ? "disk_full" : null,
    spot,
    gpu: acceleratorName(i.gpu_name ?? "unknown", i.num_gpus ?? 1),
    price_usd_per_hour: i.dph_total ?? null,
    ssh_url: ep ? sshUrl(ep) : null,
    started_at: i.start_date ? toIso(i.start_date * 1000) : null,
    tags: tagsOf(i),
  };
}
type InstanceView = ReturnType<typeof instanceView>;

const instanceTable = async (rows: InstanceView[]) =>
  rows.length === 0
    ? "no Vast instances"
    : await table(
        ["ID", "LABEL", "STATUS", "ACTUAL", "MARKET", "GPU", "PRICE/H", "SSH"],
        rows.map((v) => [
          v.id,
          v.label ?? "-",
          v.interrupted ? `${v.status} (${v.interrupted})` : v.status,
          v.actual_status ?? "-",
          v.spot ? "bid ⚡" : "on-demand",
          v.gpu,
          v.price_usd_per_hour === null ? "-" : `$${v.price_usd_per_hour}`,
          v.ssh_url ?? "-",
        ]),
      );

async function showOrNotFound(client: VastClient, id: number): Promise<VastInstance> {
  const inst = await client.showInstance(id);
  if (!inst) throw new SpotrunError("not_found", `Vast instance ${id} not found`, { fix: "see: spotrun vast instances" });
  return inst;
}

/** `vast stop|start|reboot`: ask for the state change, then show the instance as it is now. */
export async function vastSetState(
  verb: "stop" | "start" | "reboot",
  ctx: CommandContext,
  args: string[],
): Promise<CommandResult> {
  const id = idArg(args[0]);
  const client = await clientFor(ctx);
  if (verb === "reboot") await client.reboot(id);
  else await client.setState(id, verb === "stop" ? "stopped" : "running");
  const inst = instanceView(await showOrNotFound(client, id));
  return { data: inst, human: `instance ${id}: ${verb} requested (now ${inst.actual_status ?? "pending"})` };
}

export async function vastInstances(ctx: CommandContext): Promise<CommandResult> {
  const rows = (await (await clientFor(ctx)).showInstances()).map(instanceView);
  return { data: { instances: rows }, human: await instanceTable(rows) };
}

export async function vastCreate(ctx: CommandContext, args: string[], opts: Record<string, unknown>): Promise<CommandResult> {
  const offer = idArg(args[0], "offer");
  const env: Record<string, string> = {};
  for (const kv of (opts.env as string[] | undefined) ?? []) {
    const i = kv.indexOf("=");
    if (i <= 0) throw usageError(`--env ${kv} is not KEY=VALUE`);
    env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  const disk = Number(opts.disk);
  if (!Number.isFinite(disk) || disk <= 0) throw usageError(`--disk must be GB, got "${String(opts.disk)}"`);
  const body: CreateInstanceBody = {
    client_id: "me",
    image: String(opts.image),
    env,
    price: opts.bid === undefined ? null : priceArg(opts.bid, "--bid"),
    disk,
    label: (opts.label as string | undefined) ?? null,
    onstart: (opts.onstartCmd as string | undefined) ?? null,
    runtype: opts.direct === false ? "ssh_proxy" : "ssh_direc ssh_proxy",
  };
  let id: number;
  try {
    id = await (await clientFor(ctx)).createInstance(offer, body);
  } catch (e) {
    // The offer went between the search and the create (rented by someone else, or withdrawn): a refusal, not a fault.
    if (e instanceof VastApiError && e.code === "no_such_ask")
      throw new SpotrunError("provider_refused", `vast: offer ${offer} is no longer available (rented or withdrawn)`, {
        fix: "pick another offer: spotrun offers --provider vast",
        code: e.code,
        cause: e,
      });
    throw e;
  }
  const market = body.price === null ? "on-demand" : `interruptible at $${body.price}/h`;
  return {
    data: { id: String(id), offer_id: String(offer), spot: body.price !== null, bid_usd_per_hour: body.price },
    human: `created instance ${id} on offer ${offer} (${market}) — next: spotrun vast wait ${id}`,
  };
}

export async function vastWait(ctx: CommandContext, args: string[], opts: Record<string, unknown>): Promise<CommandResult> {
  const id = idArg(args[0]);
  const timeoutMs = parseDuration(String(opts.timeout));
  if (timeoutMs === undefined)
    throw usageError(`--timeout ${String(opts.timeout)} is not a duration`, "write it like 90s or 10m");
  const client = await clientFor(ctx);
  try {
    const inst = await waitForRunning(client, id, {
      timeoutMs,
      clock: systemClock,
      signal: ctx.signal,
      onProgress: (p) =>
        ctx.out.info(
          `instance ${id}: ${p.condition.kind}${p.statusMsg ? ` — ${p.statusMsg}` : ""} (${Math.round(p.elapsedMs / 1000)}s)`,
        ),
    });
    const view = instanceView(inst);
    return { data: view, human: `instance ${id} is running — ${view.ssh_url ?? "no SSH address"}` };
  } catch (e) {
    if (!(e instanceof InstanceStartError)) throw e;
    if (e.failure === "timeout" && opts.destroyOnTimeout) {
      await client.destroy(id);
      ctx.out.warn(`instance ${id} destroyed`);
    }
    const fix =
      e.failure === "disk_full"
        ? "destroy it and create one with a larger --disk"
        : e.failure === "timeout"
          ? `destroy it (spotrun vast destroy ${id}) and rent another offer`
          : "rent another offer";
    throw new SpotrunError("failed", e.message, { fix, code: `vast_${e.failure}`, cause: e });
  }
}

export async function vastSshUrl(ctx: CommandContext, args: string[]): Promise<CommandResult> {
  const id = idArg(args[0]);
  const ep = sshEndpoint(await showOrNotFound(await clientFor(ctx), id));
  if (!ep) throw new SpotrunError("failed", `instance ${id} has no SSH address yet`, { fix: `spotrun vast wait ${id}` });
  return { data: { id: String(id), ssh_url: sshUrl(ep), host: ep.host, port: ep.port, user: "root" }, human: sshUrl(ep) };
}

export async function vastLogs(ctx: CommandContext, args: string[], opts: Record<string, unknown>): Promise<CommandResult> {
  const id = idArg(args[0]);
  const tail = Number(opts.tail);
  if (!Number.isInteger(tail) || tail <= 0) throw usageError(`--tail must be a number of lines, got "${String(opts.tail)}"`);
  const text = await (await clientFor(ctx)).logs(id, { tail, daemonLogs: opts.daemonLogs === true });
  return { data: { id: String(id), logs: text }, human: text.replace(/\n$/, "") };
}

export async function vastBid(ctx: CommandContext, args: string[]): Promise<CommandResult> {
  const id = idArg(args[0]);
  const price = args[1] === undefined ? undefined : priceArg(args[1], "price");
  const client = await clientFor(ctx);
  await client.changeBid(id, price);
  const inst = instanceView(await showOrNotFound(client, id));
  return { data: inst, human: `instance ${id}: bid ${price === undefined ? "raised to win" : `set to $${price}/h`}` };
}

export async function vastDestroy(ctx: CommandContext, args: string[]): Promise<CommandResult> {
  const client = await clientFor(ctx);
  const ids = args.map((a) => idArg(a));
  const destroyed: string[] = [];
  for (const id of ids) {
    try {
      await client.destroy(id);
    } catch (e) {
      if (await client.showInstance(id)) throw e;
    }
    destroyed.push(String(id));
  }
  return { data: { destroyed }, human: `destroyed ${destroyed.join(", ")}` };
}
