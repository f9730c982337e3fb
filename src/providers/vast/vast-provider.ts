import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { type Clock, systemClock } from "../../base/clock.js";
import { SpotrunError, usageError } from "../../base/errors.js";
import { InstanceId } from "../../base/ids.js";
import type { Logger } from "../../base/logger.js";
import type { Resources } from "../../spec/task-schema.js";
import { dropHostPins, hostPinPath } from "../../transport/ssh/host-pins.js";
import type { SshTarget } from "../../transport/ssh/ssh-target.js";
import type { Transport } from "../../transport/transport.js";
import { type ApiCallCounts, type ApiCallListener, ApiCallMeter } from "../api-calls.js";
import { type CallBudget, processCallBudget } from "../call-budget.js";
import {
  type InstanceInfo,
  type LaunchRequest,
  type LaunchResult,
  type NoticeSource,
  type Offer,
  type OfferQuery,
  type Provider,
  ProviderError,
  type RefusalKind,
  TAG,
} from "../provider.js";
import { VastClient } from "./client.js";
import { classify, statusOf } from "./instance-state.js";
import { encodeTagEnv, hasTags, metaOf, tagsOf } from "./instance-tags.js";
import { acceleratorName, applyRentedFilter, toOffer } from "./offer-mapping.js";
import { onstartScript } from "./onstart-script.js";
import { buildSearchBody } from "./query.js";
import { searchOffersWith } from "./search-offers.js";
import { sshEndpoint } from "./ssh-target.js";
import { VastApiError } from "./vast-api-error.js";
import { InstanceStartError, type WaitProgress, waitForRunning } from "./wait-for-running.js";
import type { CreateInstanceBody, FieldFilter, Filters, VastInstance } from "./wire.js";

export const DEFAULT_VAST_IMAGE = "pytorch/pytorch:latest";
export const DEFAULT_VAST_DISK_GB = 10;
/** Creates tried per launched instance when one fails in a way that may pass and rented nothing. */
const CREATE_ATTEMPTS = 3;

/** `RTX_4090:2` → gpu_name "RTX 4090", 2 GPUs; a bare name means one. */
export function parseAccelerators(spec: string): { gpuName: string; count: number } {
  const m = /^([A-Za-z0-9_.\- ]+?)(?::(\d+))?$/.exec(spec.trim());
  const count = m?.[2] === undefined ? 1 : Number(m[2]);
  if (!m?.[1] || count < 1)
    throw usageError(
      `resources.accelerators: cannot read "${spec}"`,
      "write GPU_NAME:COUNT, e.g. RTX_4090:1",
      "vast_accelerators",
    );
  return { gpuName: m[1].replace(/_/g, " "), count };
}

/** Placement may name the GPU only in `instanceTypes` (an offer's `RTX_4090:1`): use it when the task did not. */
function withAccelerators(req: LaunchRequest): LaunchRequest {
  const named = req.instanceTypes[0];
  if (req.resources.accelerators || !named || !/^[A-Za-z0-9_.-]+(:\d+)?$/.test(named)) return req;
  return { ...req, resources: { ...req.resources, accelerators: named } };
}

/** A task's resources as a Vast search: the filters, the offer type, and the price order. */
export function resourcesToSearch(r: Resources) {
  const filters: Filters = {};
  if (r.accelerators) {
    const { gpuName, count } = parseAccelerators(r.accelerators);
    filters.gpu_name = { eq: gpuName };
    filters.num_gpus = { eq: count };
  }
  if (r.min_reliability !== undefined) filters.reliability = { gte: r.min_reliability };
  if (r.disk !== undefined) filters.disk_space = { gte: r.disk };
  if (r.max_price !== undefined) r.spot ? (filters.min_bid = { lte: r.max_price }) : (filters.dph_total = { lte: r.max_price });
  const type = r.spot ? ("bid" as const) : ("on-demand" as const);
  const body = buildSearchBody(filters, { type, order: r.spot ? "min_bid" : "dph_total", storage: r.disk });
  return { body, type };
}

/**
 * Which refusals a failed create means, by the API's own `error` code (as public clients of the
 * API report them; Vast does not document the list). Auth failures are not refusals: they throw.
 */
const REFUSALS: Record<string, RefusalKind> = {
  no_such_ask: "capacity",
  ask_unavailable: "capacity",
  unavailable: "capacity",
  insufficient_credit: "quota",
  insufficient_funds: "quota",
  max_instances: "quota",
  bid_too_low: "price",
  price_too_low: "price",
};

export interface VastProviderOptions {
  home: string;
  logger: Logger;
  client?: VastClient;
  clock?: Clock;
  /** Kept for callers of older versions; nothing is installed from npm any more. */
  spotrunVersion?: string;
  npmRegistry?: string;
  /**
   * Credentials the agent needs for an s3:// or gs:// checkpoint store: a Vast machine has no
   * instance identity, so the controller hands these over (and nothing else). Default: the
   * variables named in `SPOTRUN_VAST_STORE_ENV` (comma-separated), read from this environment.
   */
  storeEnv?: Record<string, string>;
  /**
   * An instance still not running this long after it was rented is reported as interrupted
   * ("never_started"), so the controller replaces it, and its machine is avoided for
   * `avoidMachineMs` (defaults: 10 min, 30 min).
   */
  startTimeoutMs?: number;
  avoidMachineMs?: number;
  /**
   * An instance that runs (and bills) but has not once answered SSH this long after the first
   * try is reported as interrupted ("unreachable"), so the controller replaces it elsewhere, as
   * one that never starts, and its machine is avoided (default 5 min). Once it has answered, a
   * later silence is the controller's health check's to judge, not this.
   */
  sshTimeoutMs?: number;
  /** Told of every Vast API request (each try) with its outcome. */
  onApiCall?: ApiCallListener;
  /** The call budget to draw from; default the process's. */
  budget?: CallBudget;
}

/**
 * Vast.ai behind the Provider interface. Instances are labelled with the launch token (a second
 * launch with the same token adopts the first), carry their tags in the environment, and are
 * reached over SSH. There is no notice on the instance: interruption (outbid, host stop) is read
 * from the API by describe/list, in `interrupted`.
 */
export class VastProvider implements Provider {
  readonly kind = "vast" as const;
  readonly noticeSource: NoticeSource = "none";
  /** Interruption shows only in the API (there is no notice on the machine), but one list answers for every job: 10 s. */
  readonly pollIntervalMs = 10_000;
  private readonly meter: ApiCallMeter;
  private readonly home: string;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly onstart: string;
  private readonly storeEnv: Record<string, string>;
  private client: VastClient | undefined;
  /** When an interruption was first seen, so repeated describes report the same time. */
  private readonly interruptedSince = new Map<number, number>();
  /** Last view of each instance, so one that has vanished from the API is reported as terminated. */
  private readonly lastSeen = new Map<number, InstanceInfo>();
  /** Machines whose instance never started, and until when their offers are skipped. */
  private readonly avoidMachines = new Map<number, number>();
  private readonly startTimeoutMs: number;
  private readonly avoidMachineMs: number;
  private readonly sshTimeoutMs: number;
  /** Instances whose SSH has not answered yet: since when spotrun has been trying. */
  private readonly sshFailingSince = new Map<number, number>();
  /** Instances that have answered SSH at least once. */
  private readonly sshAnswered = new Set<number>();

  constructor(opts: VastProviderOptions) {
    this.home = opts.home;
    this.logger = opts.logger;
    this.clock = opts.clock ?? systemClock;
    this.meter = new ApiCallMeter("vast", opts.budget ?? processCallBudget(), opts.onApiCall);
    this.client = opts.client;
    this.client?.useMeter(this.meter);
    this.startTimeoutMs = opts.startTimeoutMs ?? 600_000;
    this.avoidMachineMs = opts.avoidMachineMs ?? 1_800_000;
    this.sshTimeoutMs = opts.sshTimeoutMs ?? 300_000;
    this.onstart = onstartScript();
    this.storeEnv = opts.storeEnv ?? namedEnv(process.env.SPOTRUN_VAST_STORE_ENV);
  }

  private async api(): Promise<VastClient> {
    this.client ??= await VastClient.fromConfig(this.home, { clock: this.clock, meter: this.meter });
    return this.client;
  }

  apiCalls(): ApiCallCounts {
    return this.meter.counts();
  }

  async offers(resources: Resources): Promise<Offer[]> {
    const { body, type } = resourcesToSearch(resources);
    const raw = await (await this.api()).searchOffers(body);
    const now = this.clock.now();
    const usable = applyRentedFilter(raw, body.rented as FieldFilter | undefined).filter(
      (o) => o.machine_id === undefined || (this.avoidMachines.get(o.machine_id) ?? 0) <= now,
    );
    const offers = usable.map((o) => toOffer(o, type));
    const max = resources.max_price;
    return offers.filter((o) => max === undefined || o.pricePerHour <= max).sort((a, b) => a.pricePerHour - b.pricePerHour);
  }

  /** `spotrun offers QUERY --provider vast`: the Vast query language, the API's order, no filtering of ours. */
  async searchOffers(query: string, opts: OfferQuery = {}): Promise<Offer[]> {
    return searchOffersWith(await this.api(), query, opts);
  }

  async launch(req: LaunchRequest): Promise<LaunchResult> {
    req = withAccelerators(req);
    const api = await this.api();
    const mine = (await api.showInstances()).filter((i) => classify(i, false).kind !== "gone");
    const labels = Array.from({ length: req.count }, (_, k) => (req.count === 1 ? req.token : `${req.token}-${k}`));
    const adopted = labels.map((l) => mine.find((i) => i.label === l));
    if (adopted.every((i) => i !== undefined)) {
      this.logger.info({ token: req.token }, "vast: adopting instances launched earlier with this token");
      // The launch that made them may have ended before it attached the key.
      for (const i of adopted) await api.attachSshKey((i as VastInstance).id, this.sshKey().publicLine);
      return { kind: "launched", instances: adopted.map((i) => this.toInfo(i as VastInstance)) };
    }
    const maxPrice = req.maxPrice ?? req.resources.max_price;
    let candidates: Offer[];
    if (req.offer) candidates = [req.offer];
    else candidates = await this.offers({ ...req.resources, spot: req.spot, max_price: maxPrice });
    const affordable = candidates.filter((o) => maxPrice === undefined || o.pricePerHour <= maxPrice);
    if (affordable.length < req.count) {
      const cheapest = candidates[0]?.pricePerHour;
      return candidates.length > 0 && cheapest !== undefined
        ? {
            kind: "refused",
            refusal: "price",
            code: "over_max_price",
            message: `cheapest Vast offer is $${cheapest}/h, over the max price $${maxPrice}/h`,
          }
        : { kind: "refused", refusal: "capacity", code: "no_offers", message: "no Vast offer matches the task's resources" };
    }
    const instances: InstanceInfo[] = [];
    for (const [k, label] of labels.entries()) {
      const have = adopted[k];
      if (have) {
        await api.attachSshKey(have.id, this.sshKey().publicLine);
        instances.push(this.toInfo(have));
        continue;
      }
      const offer = affordable[k] as Offer;
      const created = await this.create(api, req, offer, label);
      if (created.kind === "refused") return created;
      instances.push(created.info);
    }
    return { kind: "launched", instances };
  }

  private async create(
    api: VastClient,
    req: LaunchRequest,
    offer: Offer,
    label: string,
  ): Promise<{ kind: "ok"; info: InstanceInfo } | Extract<LaunchResult, { kind: "refused" }>> {
    const tags = { ...req.tags, [TAG.spot]: String(req.spot) };
    const body: CreateInstanceBody = {
      client_id: "me",
      image: req.resources.image ?? DEFAULT_VAST_IMAGE,
      env: encodeTagEnv(tags, { onDemandPricePerHour: offer.onDemandPricePerHour, spot: req.spot }),
      // A bid makes the instance interruptible; bidding the offer's current minimum wins it now.
      price: req.spot ? offer.pricePerHour : null,
      disk: req.resources.disk ?? DEFAULT_VAST_DISK_GB,
      label,
      onstart: this.onstart,
      runtype: "ssh_direc ssh_proxy",
      image_login: null,
      python_utf8: false,
      lang_utf8: false,
      use_jupyter_lab: false,
      jupyter_dir: null,
      force: false,
      cancel_unavail: true,
    };
    let id: number | undefined;
    for (let attempt = 1; id === undefined; attempt++) {
      try {
        id = await api.createInstance(Number(offer.id), body);
      } catch (e) {
        if (!(e instanceof VastApiError)) throw e;
        if (e.retryable) {
          // A create that failed this way may still have rented (its answer was lost): the label
          // says whether it did. Only when it did not is it made again.
          id = (await api.showInstances()).find((i) => i.label === label && classify(i, false).kind !== "gone")?.id;
          if (id !== undefined) break;
          if (attempt >= CREATE_ATTEMPTS) throw e;
          await this.clock.sleep(1000 * attempt);
          continue;
        }
        if (e.status === 401 || e.status === 403)
          throw new SpotrunError("usage", "Vast.ai rejected the API key", {
            fix: "check VAST_API_KEY or <home>/config/vast_api_key",
            code: e.code,
            cause: e,
          });
        return { kind: "refused", refusal: REFUSALS[e.code] ?? "unsupported", code: e.code, message: e.message };
      }
    }
    this.logger.info({ offer: offer.id, instance: id, spot: req.spot }, "vast: instance created");
    // Vast installs the account's keys only; spotrun's own key is attached to each instance it
    // makes (as `vastai attach ssh` does), so SSH works without the user's agent or account keys.
    await api.attachSshKey(id, this.sshKey().publicLine);
    const inst = await api.showInstance(id);
    const info = inst
      ? this.toInfo(inst)
      : this.stub(id, {
          instanceType: offer.instanceType,
          spot: req.spot,
          pricePerHour: offer.pricePerHour,
          onDemandPricePerHour: offer.onDemandPricePerHour,
          tags,
        });
    return { kind: "ok", info };
  }

  async describe(ids: InstanceId[]): Promise<InstanceInfo[]> {
    if (ids.length === 0) return [];
    const api = await this.api();
    const all = new Map((await api.showInstances()).map((i) => [String(i.id), i]));
    const out: InstanceInfo[] = [];
    for (const id of ids) {
      // One list call answers for all; an id missing from it is asked about alone before it is
      // declared gone, so a list that lags a fresh create never reads as a lost instance.
      const inst = all.get(id) ?? (await api.showInstance(Number(id)));
      out.push(inst && classify(inst, false).kind !== "gone" ? this.toInfo(inst) : this.vanished(Number(id)));
    }
    return out;
  }

  async list(tags: Record<string, string>): Promise<InstanceInfo[]> {
    const all = await (await this.api()).showInstances();
    return all.filter((i) => hasTags(i, tags)).map((i) => this.toInfo(i));
  }

  /** Destroy each; an instance the API no longer has counts as destroyed. */
  async terminate(ids: InstanceId[]): Promise<void> {
    const api = await this.api();
    for (const id of ids) {
      try {
        await api.destroy(Number(id));
      } catch (e) {
        const still = await api.showInstance(Number(id));
        if (still && classify(still, false).kind !== "gone") throw e;
      }
      this.vanished(Number(id));
      this.sshFailingSince.delete(Number(id));
      this.sshAnswered.delete(Number(id));
    }
    await dropHostPins(join(this.home, "ssh"), ids);
  }

  async transport(instance: InstanceInfo): Promise<Transport> {
    const { connectSsh } = await import("../../transport/ssh/connect.js");
    const id = Number(instance.id);
    // The limit runs from the first try on a running instance (one still starting is the start
    // limit's to judge), so the connect's own retries count toward it.
    if (!this.sshAnswered.has(id) && instance.status === "running" && !this.sshFailingSince.has(id))
      this.sshFailingSince.set(id, this.clock.now());
    const t = await connectSsh(await this.sshTarget(instance), { logger: this.logger, clock: this.clock });
    this.sshAnswered.add(id);
    this.sshFailingSince.delete(id);
    return t;
  }

  async sshTarget(instance: InstanceInfo): Promise<SshTarget> {
    const inst = await (await this.api()).showInstance(Number(instance.id));
    const ep = inst && sshEndpoint(inst);
    if (!ep)
      throw new ProviderError(
        "vast",
        "no_ssh",
        `vast: instance ${instance.id} has no SSH address yet — wait until it is running`,
        true,
      );
    return {
      host: ep.host,
      port: ep.port,
      user: "root",
      privateKeyPath: this.sshKey().path,
      knownHostsPath: hostPinPath(join(this.home, "ssh"), instance.id),
      label: `vast:${instance.id}@${ep.host}:${ep.port}`,
    };
  }

  /**
   * The key spotrun logs in with and attaches to every instance it creates: `SPOTRUN_SSH_KEY`
   * (with its `.pub` beside it), else an ed25519 key made once under `<home>/keys/vast-ed25519`.
   */
  private sshKey(): { path: string; publicLine: string } {
    const given = process.env.SPOTRUN_SSH_KEY;
    const path = given ?? join(this.home, "keys", "vast-ed25519");
    if (!given && !existsSync(path)) {
      mkdirSync(dirname(path), { recursive: true });
      execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "spotrun-vast", "-f", path]);
    }
    try {
      return { path, publicLine: readFileSync(`${path}.pub`, "utf8").trim() };
    } catch {
      throw usageError(
        `SPOTRUN_SSH_KEY=${path} has no public half at ${path}.pub`,
        `write it with \`ssh-keygen -y -f ${path} > ${path}.pub\``,
      );
    }
  }

  /** Only the store credentials named for hand-over (see `storeEnv`): never the controller's whole environment. */
  agentEnv(_instance: InstanceInfo): Record<string, string> {
    return { ...this.storeEnv };
  }

  /** Poll one instance until it runs (see wait-for-running.ts); throws InstanceStartError. */
  async waitForRunning(
    id: InstanceId,
    opts: { timeoutMs: number; clock?: Clock; onProgress?: (p: WaitProgress) => void; signal?: AbortSignal },
  ): Promise<InstanceInfo> {
    const api = await this.api();
    const prior = this.lastSeen.get(Number(id));
    const inst = await waitForRunning(api, Number(id), { ...opts, clock: opts.clock ?? this.clock, spot: prior?.spot ?? false });
    return this.toInfo(inst);
  }

  /**
   * The seed's "instance won't start: try a different instance": launch, wait, and when an
   * instance does not run within the limit destroy it and take the next offer, up to `maxOffers`.
   */
  async launchRunning(
    req: LaunchRequest,
    opts: {
      timeoutMs: number;
      maxOffers?: number;
      onProgress?: (p: WaitProgress) => void;
      onReplace?: (e: InstanceStartError) => void;
    },
  ): Promise<LaunchResult> {
    req = withAccelerators(req);
    const offers = req.offer
      ? [req.offer]
      : await this.offers({ ...req.resources, spot: req.spot, max_price: req.maxPrice ?? req.resources.max_price });
    if (offers.length === 0) return this.launch(req);
    const tries = Math.min(opts.maxOffers ?? 3, offers.length);
    let lastRefusal: LaunchResult | undefined;
    for (let k = 0; k < tries; k++) {
      const attemptReq: LaunchRequest = {
        ...req,
        count: 1,
        offer: offers[k] as Offer,
        token: k === 0 ? req.token : `${req.token}-r${k}`,
      };
      const res = await this.launch(attemptReq);
      if (res.kind === "refused") {
        lastRefusal = res;
        continue;
      }
      const info = res.instances[0] as InstanceInfo;
      try {
        return {
          kind: "launched",
          instances: [await this.waitForRunning(info.id, { timeoutMs: opts.timeoutMs, onProgress: opts.onProgress })],
        };
      } catch (e) {
        if (!(e instanceof InstanceStartError)) throw e;
        opts.onReplace?.(e);
        this.logger.warn(
          { instance: info.id, failure: e.failure },
          "vast: instance did not start; destroying it and trying the next offer",
        );
        await this.terminate([info.id]);
        if (e.failure === "disk_full")
          throw new SpotrunError("failed", e.message, {
            fix: "ask for more disk (resources.disk) and run again",
            code: "vast_disk_full",
          });
      }
    }
    return (
      lastRefusal ?? {
        kind: "refused",
        refusal: "capacity",
        code: "never_started",
        message: `no Vast instance started within ${Math.round(opts.timeoutMs / 1000)}s on ${tries} offers`,
      }
    );
  }

  private toInfo(inst: VastInstance): InstanceInfo {
    const tags = tagsOf(inst);
    const meta = metaOf(inst);
    const spot = meta.spot ?? (tags[TAG.spot] === "true" || inst.is_bid === true);
    const cond = classify(inst, spot);
    const info: InstanceInfo = {
      id: InstanceId(String(inst.id)),
      provider: "vast",
      instanceType: acceleratorName(inst.gpu_name ?? "unknown", inst.num_gpus ?? 1),
      spot,
      status: statusOf(cond),
      pricePerHour: inst.dph_total ?? 0,
      onDemandPricePerHour: meta.onDemandPricePerHour ?? inst.dph_total ?? 0,
      launchedAt: inst.start_date ? Math.round(inst.start_date * 1000) : this.clock.now(),
      tags,
    };
    if (inst.geolocation) info.region = inst.geolocation;
    const ep = sshEndpoint(inst);
    if (ep) info.address = `${ep.host}:${ep.port}`;
    const now = this.clock.now();
    const neverStarted = cond.kind === "starting" && inst.start_date && now - inst.start_date * 1000 > this.startTimeoutMs;
    const failingSince = this.sshFailingSince.get(inst.id);
    const unreachable = cond.kind === "running" && failingSince !== undefined && now - failingSince > this.sshTimeoutMs;
    if ((neverStarted || unreachable) && inst.machine_id !== undefined)
      this.avoidMachines.set(inst.machine_id, now + this.avoidMachineMs);
    if (cond.kind === "disk_full") {
      info.failure = { kind: "disk_full", message: inst.status_msg ?? "no space left on device" };
    } else if (cond.kind === "interrupted" || neverStarted || unreachable) {
      const at = this.interruptedSince.get(inst.id) ?? now;
      this.interruptedSince.set(inst.id, at);
      const reason =
        cond.kind === "interrupted"
          ? cond.reason
          : neverStarted
            ? "never_started"
            : `unreachable: no SSH answer for ${Math.round(this.sshTimeoutMs / 1000)} s while running`;
      info.interrupted = { reason, at };
    } else this.interruptedSince.delete(inst.id);
    this.lastSeen.set(inst.id, info);
    return info;
  }

  private vanished(id: number): InstanceInfo {
    const prior = this.lastSeen.get(id);
    const info: InstanceInfo = prior
      ? { ...prior, status: "terminated", endedAt: prior.endedAt ?? this.clock.now() }
      : this.stub(id, { instanceType: "unknown", spot: false, pricePerHour: 0, onDemandPricePerHour: 0, tags: {} }, "terminated");
    delete info.interrupted;
    this.lastSeen.set(id, info);
    return info;
  }

  private stub(
    id: number,
    p: Pick<InstanceInfo, "instanceType" | "spot" | "pricePerHour" | "onDemandPricePerHour" | "tags">,
    status: InstanceInfo["status"] = "pending",
  ): InstanceInfo {
    const now = this.clock.now();
    const info: InstanceInfo = { id: InstanceId(String(id)), provider: "vast", status, launchedAt: now, ...p };
    if (status === "terminated") info.endedAt = now;
    this.lastSeen.set(id, info);
    return info;
  }
}

/** `A,B` → {A: $A, B: $B} for the names set here; a name that is unset is left out. */
function namedEnv(names: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of (names ?? "").split(",").map((n) => n.trim())) {
    const v = name ? process.env[name] : undefined;
    if (v !== undefined) out[name] = v;
  }
  return out;
}
