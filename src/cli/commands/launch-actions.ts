/** What `spotrun launch` does, imported only when it runs (its flags are defined in launch.ts). */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { LAUNCH_TAG } from "../../api/instance-list.js";
import { toIso } from "../../base/clock.js";
import { ExitCode, SpotrunError, usageError } from "../../base/errors.js";
import { attemptIdOf, idempotencyKey, newJobId } from "../../base/ids.js";
import type { InstanceInfo, LaunchResult, Offer, Provider } from "../../providers/provider.js";
import { ProviderError, TAG } from "../../providers/provider.js";
import { PROVIDERS, type ProviderKind } from "../../spec/task-limits.js";
import type { Resources } from "../../spec/task-schema.js";
import { openApp } from "../app.js";
import type { CommandContext, CommandResult } from "../command.js";
import { table } from "../output.js";
import { INTERRUPTION } from "./launch.js";

/**
 * `spotrun launch`: start instances directly (the `spawn launch` of seed 001), spot or on-demand,
 * one type or several (a fleet), one instance or a job array with K spot members. Each launch
 * prints its cost estimate with the savings line first; `--dry-run` prints only that. Fallback
 * to on-demand after a spot refusal is decided here, per member, with its own ClientToken.
 */

export { LAUNCH_TAG };

export interface LaunchEstimate {
  instance_type: string;
  region: string | null;
  zone: string | null;
  count: number;
  spot_count: number;
  on_demand_count: number;
  spot_price_usd_per_hour: number | null;
  on_demand_price_usd_per_hour: number | null;
  hourly_usd: number | null;
  on_demand_hourly_usd: number | null;
  savings_usd_per_hour: number | null;
  savings_pct: number | null;
}

const round6 = (x: number) => Math.round(x * 1e6) / 1e6;
const usdH = (x: number | null) => (x === null ? "?" : `$${x.toFixed(4)}/hr`);

/** Cheapest spot offer across the given types, and the on-demand price of the same type. */
export function launchEstimate(offers: Offer[], types: string[], count: number, spotCount: number): LaunchEstimate {
  const usable = offers.filter((o) => types.length === 0 || types.includes(o.instanceType));
  const spot = usable.filter((o) => o.spot).sort((a, b) => a.pricePerHour - b.pricePerHour)[0];
  const type = spot?.instanceType ?? types[0] ?? usable[0]?.instanceType ?? "unknown";
  const od = usable.find((o) => !o.spot && o.instanceType === type)?.pricePerHour ?? spot?.onDemandPricePerHour ?? null;
  const spotPrice = spot?.pricePerHour ?? null;
  const onDemandCount = count - spotCount;
  const hourly =
    (spotCount > 0 && spotPrice === null) || (onDemandCount > 0 && od === null)
      ? null
      : round6(spotCount * (spotPrice ?? 0) + onDemandCount * (od ?? 0));
  const baseline = od === null ? null : round6(count * od);
  const savings = hourly === null || baseline === null ? null : round6(baseline - hourly);
  return {
    instance_type: type,
    region: spot?.region ?? usable[0]?.region ?? null,
    zone: spotCount > 0 ? (spot?.zone ?? null) : null,
    count,
    spot_count: spotCount,
    on_demand_count: onDemandCount,
    spot_price_usd_per_hour: spotPrice,
    on_demand_price_usd_per_hour: od,
    hourly_usd: hourly,
    on_demand_hourly_usd: baseline,
    savings_usd_per_hour: savings,
    savings_pct: savings === null || !baseline ? null : Math.round((savings / baseline) * 100),
  };
}

export function formatEstimate(e: LaunchEstimate): string {
  const where = e.zone ?? e.region ?? "";
  const parts: string[] = [];
  if (e.spot_count > 0) parts.push(`${e.spot_count} spot at ${usdH(e.spot_price_usd_per_hour)}${where ? ` (${where})` : ""}`);
  if (e.on_demand_count > 0) parts.push(`${e.on_demand_count} on-demand at ${usdH(e.on_demand_price_usd_per_hour)}`);
  const lines = [`Estimate: ${e.count} × ${e.instance_type} — ${parts.join(" + ")} = ${usdH(e.hourly_usd)}`];
  if (e.savings_pct !== null && e.spot_count > 0)
    lines.push(`Spot savings: ${e.savings_pct}% (${usdH(e.hourly_usd)} vs ${usdH(e.on_demand_hourly_usd)} on-demand)`);
  else if (e.spot_price_usd_per_hour !== null && e.on_demand_price_usd_per_hour)
    lines.push(
      `Spot would save ${Math.round((1 - e.spot_price_usd_per_hour / e.on_demand_price_usd_per_hour) * 100)}% (${usdH(e.spot_price_usd_per_hour)} vs ${usdH(e.on_demand_price_usd_per_hour)} on-demand): add --spot`,
    );
  return lines.join("\n");
}

interface LaunchFlags {
  provider: ProviderKind;
  types: string[];
  spot: boolean;
  maxPrice?: number;
  fallback: boolean;
  count: number;
  spotCount: number;
  arrayName?: string;
  onInterruption: (typeof INTERRUPTION)[number];
  checkpointScript?: string;
  dryRun: boolean;
  resources: Resources;
}

async function parseFlags(opts: Record<string, unknown>): Promise<LaunchFlags> {
  const provider = String(opts.provider ?? "aws") as ProviderKind;
  if (!PROVIDERS.includes(provider)) throw usageError(`unknown provider ${provider}`, `use one of ${PROVIDERS.join(", ")}`);
  if (opts.instanceType !== undefined && opts.instanceTypes !== undefined)
    throw usageError(
      "--instance-type and --instance-types both given",
      "give one type, or a comma-separated list to --instance-types",
    );
  const listed =
    opts.instanceTypes !== undefined
      ? String(opts.instanceTypes)
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean)
      : [];
  if (opts.instanceTypes !== undefined && listed.length === 0)
    throw usageError("--instance-types is empty", "write it as m7i.large,m6i.large");
  const types =
    opts.instanceType !== undefined
      ? [String(opts.instanceType)]
      : listed.length
        ? listed
        : provider === "aws"
          ? ["m7i.large"]
          : [];

  const int = (name: string, flag: string, min: number): number | undefined => {
    if (opts[name] === undefined) return undefined;
    const n = Number(opts[name]);
    if (!Number.isInteger(n) || n < min) throw usageError(`${flag} ${opts[name]} is not a whole number ≥ ${min}`);
    return n;
  };
  const count = int("count", "--count", 1) ?? 1;
  const spotCountFlag = int("spotCount", "--spot-count", 0);
  const arrayName = opts.jobArrayName === undefined ? undefined : String(opts.jobArrayName);
  if (count > 1 && !arrayName) throw usageError(`--count ${count} needs a name for the array`, "add --job-array-name NAME");
  if (arrayName !== undefined && !/^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$/.test(arrayName))
    throw usageError(`--job-array-name ${arrayName} is not a valid name`, "use letters, digits, '.', '_' or '-', at most 63");
  if (spotCountFlag !== undefined && spotCountFlag > count)
    throw usageError(
      `--spot-count ${spotCountFlag} is more than --count ${count}`,
      "give at most as many spot members as the array has",
    );
  // --spot-count K says "K spot members": it implies --spot.
  const spot = opts.spot === true || (spotCountFlag ?? 0) > 0;
  const spotCount = spot ? (spotCountFlag ?? count) : 0;

  let maxPrice: number | undefined;
  if (opts.spotMaxPrice !== undefined) {
    maxPrice = Number(opts.spotMaxPrice);
    if (!Number.isFinite(maxPrice) || maxPrice <= 0.001)
      throw usageError(
        `--spot-max-price ${opts.spotMaxPrice} is not a price`,
        "give USD per hour above 0.001, e.g. --spot-max-price 0.05",
      );
    if (!spot) throw usageError("--spot-max-price without --spot", "add --spot, or drop the max price");
  }
  const onInterruption = String(opts.onInterruption ?? "checkpoint") as LaunchFlags["onInterruption"];
  if (!INTERRUPTION.includes(onInterruption))
    throw usageError(`--on-interruption ${onInterruption} is not an action`, `use one of ${INTERRUPTION.join(", ")}`);

  let checkpointScript: string | undefined;
  if (opts.checkpointScript !== undefined) {
    const s = String(opts.checkpointScript);
    // The guard that runs it rides in EC2 user data; elsewhere a managed job's checkpoint.hook does this.
    if (provider !== "aws")
      throw usageError(
        `--checkpoint-script is not supported with --provider ${provider}: the launch guard runs from EC2 user data`,
        "on local, gcp or vast run the work as a managed job (`spotrun run`) with checkpoint.hook in the task file",
      );
    if (/^s3:\/\/[^/]+\/.+/.test(s) || /^https?:\/\/[^/]+\/.+/.test(s)) checkpointScript = s;
    else if (/^[a-z][a-z0-9+.-]*:\/\//.test(s))
      throw usageError(`--checkpoint-script ${s}: unsupported URL`, "give a local path, s3://bucket/key or an http(s):// URL");
    else {
      checkpointScript = resolve(s);
      if (!existsSync(checkpointScript)) throw usageError(`--checkpoint-script ${s} does not exist`, "check the path");
    }
  }

  const { resourcesSchema } = await import("../../spec/task-schema.js");
  const resources = resourcesSchema.parse({
    provider,
    ...(types.length === 1 ? { instance_type: types[0] } : types.length > 1 ? { instance_types: types } : {}),
    spot,
    ...(maxPrice !== undefined ? { max_price: maxPrice } : {}),
    fallback_on_demand: opts.spotFallback === true,
    ...(opts.region !== undefined ? { region: String(opts.region) } : {}),
    ...(opts.image !== undefined ? { image: String(opts.image) } : {}),
    ...(opts.keyName !== undefined ? { key_name: String(opts.keyName) } : {}),
    on_interruption: onInterruption,
  });
  return {
    provider,
    types,
    spot,
    maxPrice,
    fallback: opts.spotFallback === true,
    count,
    spotCount,
    arrayName,
    onInterruption,
    checkpointScript,
    dryRun: opts.dryRun === true,
    resources,
  };
}

interface MemberOutcome {
  node: number;
  wanted_spot: boolean;
  fell_back: boolean;
  instances: InstanceInfo[];
  refused?: { refusal: string; code: string; message: string };
}

const instanceView = (i: InstanceInfo, m: MemberOutcome) => ({
  id: i.id,
  node: m.node,
  provider: i.provider,
  instance_type: i.instanceType,
  region: i.region ?? null,
  zone: i.zone ?? null,
  spot: i.spot,
  fell_back_to_on_demand: m.fell_back,
  state: i.status,
  price_usd_per_hour: i.pricePerHour,
  on_demand_price_usd_per_hour: i.onDemandPricePerHour,
  address: i.address ?? null,
  launched_at: toIso(i.launchedAt),
});

async function launchMember(
  provider: Provider,
  f: LaunchFlags,
  base: { token: string; tags: Record<string, string> },
  node: number,
  spot: boolean,
  info: (m: string) => void,
): Promise<MemberOutcome> {
  const req = {
    token: base.token,
    instanceTypes: f.types,
    spot,
    ...(spot && f.maxPrice !== undefined ? { maxPrice: f.maxPrice } : {}),
    ...(f.resources.region ? { region: f.resources.region } : {}),
    count: 1,
    tags: base.tags,
    resources: { ...f.resources, spot },
    spotSequence: node,
  };
  const first: LaunchResult = await provider.launch(req);
  if (first.kind === "launched") return { node, wanted_spot: spot, fell_back: false, instances: first.instances };
  if (!(spot && f.fallback)) return { node, wanted_spot: spot, fell_back: false, instances: [], refused: first };
  info(`Spot unavailable for member ${node} (${first.code}), falling back to on-demand...`);
  // Different parameters need a different ClientToken, or EC2 answers IdempotentParameterMismatch.
  const second = await provider.launch({
    ...req,
    token: `${base.token}-od`.slice(0, 64),
    spot: false,
    maxPrice: undefined,
    tags: { ...base.tags },
    resources: { ...f.resources, spot: false },
  });
  if (second.kind === "launched") return { node, wanted_spot: spot, fell_back: true, instances: second.instances };
  return { node, wanted_spot: spot, fell_back: true, instances: [], refused: second };
}

/** Provider errors become the CLI's one line with what to do; the provider's error code stays attached. */
export function asUserError(e: unknown): unknown {
  if (!(e instanceof ProviderError)) return e;
  const fix = e.fix ?? (e.retryable ? "retry in a minute" : "see the provider's error code");
  return new SpotrunError("failed", e.message, { code: e.code, fix, cause: e });
}

export async function launch(ctx: CommandContext, _args: string[], opts: Record<string, unknown>): Promise<CommandResult> {
  const f = await parseFlags(opts);
  const { createProvider } = await import("../../providers/registry.js");
  const provider = await createProvider(f.provider, { home: ctx.home, logger: ctx.logger });
  try {
    let estimate: LaunchEstimate | null = null;
    try {
      // Spot prices are looked up even for an on-demand launch, so the savings line can say what spot would save.
      const offers = await provider.offers({ ...f.resources, spot: true, max_price: undefined }, { quick: true });
      estimate = launchEstimate(offers, f.types, f.count, f.spotCount);
      ctx.out.info(formatEstimate(estimate));
    } catch (e) {
      if (e instanceof SpotrunError) throw e;
      ctx.out.warn(`no estimate: ${(e as Error).message}`);
    }
    if (f.dryRun)
      return {
        data: { dry_run: true, provider: f.provider, estimate },
        human: estimate ? "dry run: nothing launched" : "dry run: nothing launched (no estimate available)",
      };

    const jobId = newJobId(Date.now());
    const attempt = attemptIdOf(jobId, 0);
    const members: MemberOutcome[] = [];
    // Each member is recorded as soon as it runs, so `terminate ID` finds its provider in the store.
    const app = await openApp(ctx);
    const record = (m: MemberOutcome) =>
      app.store.recordLaunched(
        m.instances.map((i) => ({
          id: i.id,
          provider: i.provider,
          launch_id: jobId,
          array_name: f.arrayName ?? null,
          launched_at: i.launchedAt,
          ended_at: null,
        })),
      );
    try {
      for (let node = 0; node < f.count; node++) {
        const tags: Record<string, string> = {
          [TAG.job]: jobId,
          [TAG.attempt]: attempt,
          [TAG.node]: String(node),
          [LAUNCH_TAG.origin]: "launch",
          ...(f.arrayName ? { [LAUNCH_TAG.array]: f.arrayName } : {}),
          ...(f.checkpointScript ? { [TAG.checkpointScript]: f.checkpointScript } : {}),
        };
        const spot = f.spot && node < f.spotCount;
        const member = await launchMember(provider, f, { token: idempotencyKey(attempt, node), tags }, node, spot, (m) =>
          ctx.out.info(m),
        );
        members.push(member);
        await record(member);
        if (ctx.signal.aborted) break;
      }
    } finally {
      await app.close();
    }

    const instances = members.flatMap((m) => m.instances.map((i) => instanceView(i, m)));
    const refused = members
      .filter((m) => m.refused)
      .map((m) => ({
        node: m.node,
        spot: m.wanted_spot && !m.fell_back,
        ...(m.refused as NonNullable<MemberOutcome["refused"]>),
      }));
    const data = { id: jobId, job_array_name: f.arrayName ?? null, provider: f.provider, estimate, instances, refused };
    const rows = instances.map((i) => [
      i.id,
      String(i.node),
      i.spot ? "spot ⚡" : i.fell_back_to_on_demand ? "on-demand (fallback)" : "on-demand",
      i.instance_type,
      i.zone ?? "-",
      `$${i.price_usd_per_hour.toFixed(4)}`,
      i.state,
    ]);
    const lines = rows.length ? [await table(["INSTANCE", "NODE", "MARKET", "TYPE", "ZONE", "PRICE/H", "STATE"], rows)] : [];
    for (const r of refused)
      lines.push(
        `member ${r.node}: ${r.spot ? "spot" : "on-demand"} refused (${r.refusal}) [${r.code}] — ${r.spot && !f.fallback ? "add --spot-fallback, " : ""}try --instance-types with more types or another --region`,
      );
    if (refused.length && !instances.length) {
      const r = refused[0] as (typeof refused)[number];
      throw new SpotrunError("provider_refused", `launch refused: ${r.refusal} (${r.message})`, {
        code: r.code,
        fix:
          r.spot && !f.fallback
            ? "add --spot-fallback, more --instance-types, or another --region"
            : "try more --instance-types or another --region",
      });
    }
    return { data, human: lines.join("\n"), exitCode: refused.length ? ExitCode.providerRefused : ExitCode.ok };
  } catch (e) {
    throw asUserError(e);
  } finally {
    await provider.close?.();
  }
}
