import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type Clock, systemClock } from "../../base/clock.js";
import { parseDuration } from "../../base/duration.js";
import type { InstanceId } from "../../base/ids.js";
import type { Logger } from "../../base/logger.js";
import type { Resources } from "../../spec/task-schema.js";
import { dropHostPins, hostPinPath } from "../../transport/ssh/host-pins.js";
import type { SshTarget } from "../../transport/ssh/ssh-target.js";
import type { Transport } from "../../transport/transport.js";
import { type ApiCallCounts, type ApiCallListener, ApiCallMeter } from "../api-calls.js";
import { type CallBudget, processCallBudget } from "../call-budget.js";
import {
  type BootMarkers,
  type InstanceInfo,
  type LaunchRequest,
  type LaunchResult,
  type NoticeSource,
  type Offer,
  type Provider,
  ProviderError,
  type UnpricedOffers,
} from "../provider.js";
import { ComputeVms } from "./compute-vms.js";
import { GcpDisks, type VolumeSpec, volumesOf } from "./disks.js";
import { budgetGcpClients, closeGcpClients, createGcpClients, type GcpClients, resolveProject } from "./gcp-clients.js";
import { isServiceDisabled } from "./gcp-errors.js";
import { type GcpRef, lastSegment, parseGcpId, regionOf } from "./gcp-instance-id.js";
import {
  type GcpPriceCatalog,
  type GcpPricer,
  gcpPrice,
  gcpPricer,
  loadGcpPriceCatalog,
  userGcpCatalogPath,
} from "./gcp-price-catalog.js";
import { gcpSshKeyPath } from "./setup-checks.js";
import { FAILED_MARKER, READY_MARKER, STARTUP_LOG, shutdownScript, startupScript } from "./startup-script.js";
import { providerError, type TpuProgress, TpuSlices } from "./tpu-slices.js";
import { validateGcpResources } from "./validate-gcp-resources.js";

export interface GcpProviderOptions {
  home: string;
  logger: Logger;
  clock?: Clock;
  /** Real Google clients built by the caller (a test points them at its servers); default: ADC. */
  clients?: GcpClients;
  /** Default: GOOGLE_CLOUD_PROJECT, GCLOUD_PROJECT, then the ADC project. */
  project?: string;
  /** Use the older `preemptible: true` instead of `provisioningModel: SPOT` (for images or quotas that need it). */
  legacyPreemptible?: boolean;
  /** Boot image for VMs; default Debian 12. */
  image?: string;
  /** Zones to try, in order, when the request names only a region (default: the region's zones from Compute). */
  zones?: string[];
  /** `spotrun` version the startup script installs (default: this one's). */
  spotrunVersion?: string;
  /** SSH: user, private key (its `.pub` goes into `ssh-keys` metadata unless OS Login is used). */
  sshUser?: string;
  sshPrivateKeyPath?: string;
  osLogin?: boolean;
  /** TPU queued resources: poll interval and how long to wait for capacity. */
  tpuPollMs?: number;
  tpuWaitMs?: number;
  onProgress?: (p: TpuProgress) => void;
  /** Told of every Compute and TPU API call (each page, each operation poll) with its outcome. */
  onApiCall?: ApiCallListener;
  /** The call budget to draw from; default the process's. */
  budget?: CallBudget;
}

const DEFAULT_MACHINE_TYPE = "e2-standard-4";
const DEFAULT_IMAGE = "projects/debian-cloud/global/images/family/debian-12";

/**
 * Google Cloud: Compute Engine spot VMs and Cloud TPU slices through queued resources.
 *
 * A launch tries the request's machine types in order and, for each, its zones in order (the
 * requested zone first, then the other zones of its region); a capacity, quota or unsupported
 * refusal moves on to the next zone or type, and is logged. Only when every pair refused does
 * the launch return `refused` (with the last code, and every refusal in the message), so the
 * caller can fall back to standard provisioning or another provider.
 */
export class GcpProvider implements Provider {
  readonly kind = "gcp" as const;
  readonly noticeSource: NoticeSource = "gce-metadata";
  /** One aggregated listing answers for every job of the project: every 10 s at steady state. */
  readonly pollIntervalMs = 10_000;
  private readonly meter: ApiCallMeter;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private clientsP: Promise<GcpClients> | undefined;
  private projectP: Promise<string> | undefined;
  private tpuP: Promise<TpuSlices> | undefined;
  private disksP: Promise<GcpDisks> | undefined;
  private vmsP: Promise<ComputeVms> | undefined;
  private catalogP: Promise<GcpPriceCatalog> | undefined;
  private pricerP: Promise<GcpPricer> | undefined;

  private readonly opts: GcpProviderOptions;

  constructor(opts: GcpProviderOptions) {
    // The provider registry passes only home/logger/clock; these choices can also come from the environment.
    const waitMs = process.env.SPOTRUN_GCP_TPU_WAIT ? parseDuration(process.env.SPOTRUN_GCP_TPU_WAIT) : undefined;
    this.opts = {
      ...(process.env.SPOTRUN_GCP_PREEMPTIBLE === "1" ? { legacyPreemptible: true } : {}),
      ...(process.env.SPOTRUN_GCP_OS_LOGIN === "1" ? { osLogin: true } : {}),
      ...(waitMs !== undefined ? { tpuWaitMs: waitMs } : {}),
      ...opts,
    };
    this.clock = opts.clock ?? systemClock;
    this.logger = opts.logger;
    this.meter = new ApiCallMeter("gcp", opts.budget ?? processCallBudget(), opts.onApiCall);
    if (opts.clients) {
      budgetGcpClients(opts.clients, this.meter);
      this.clientsP = Promise.resolve(opts.clients);
    }
  }

  apiCalls(): ApiCallCounts {
    return this.meter.counts();
  }

  private clients(): Promise<GcpClients> {
    this.clientsP ??= createGcpClients().then((c) => {
      budgetGcpClients(c, this.meter);
      return c;
    });
    return this.clientsP;
  }

  private project(): Promise<string> {
    this.projectP ??= this.opts.project ? Promise.resolve(this.opts.project) : this.clients().then(resolveProject);
    return this.projectP;
  }

  /** Persistent disks of this project (also what `spotrun volume resize` uses). */
  async disks(): Promise<GcpDisks> {
    this.disksP ??= Promise.all([this.clients(), this.project()]).then(([c, p]) => new GcpDisks(c, p, this.logger));
    return this.disksP;
  }

  /** List prices: the shipped catalog overlaid by `<home>/catalog/gcp-prices.json`. */
  private catalog(): Promise<GcpPriceCatalog> {
    this.catalogP ??= loadGcpPriceCatalog(this.opts.home);
    return this.catalogP;
  }

  private pricer(): Promise<GcpPricer> {
    this.pricerP ??= this.catalog().then((c) => gcpPricer(c, this.logger));
    return this.pricerP;
  }

  private vms(): Promise<ComputeVms> {
    this.vmsP ??= Promise.all([this.clients(), this.pricer()]).then(
      ([clients, price]) =>
        new ComputeVms({
          clients,
          project: () => this.project(),
          logger: this.logger,
          clock: this.clock,
          disks: () => this.disks(),
          metadata: (volumes) => this.metadata(volumes),
          image: this.opts.image ?? DEFAULT_IMAGE,
          legacyPreemptible: this.opts.legacyPreemptible ?? false,
          price,
        }),
    );
    return this.vmsP;
  }

  private tpu(): Promise<TpuSlices> {
    this.tpuP ??= Promise.all([this.clients(), this.pricer()]).then(
      ([clients, price]) =>
        new TpuSlices({
          clients,
          project: () => this.project(),
          logger: this.logger,
          clock: this.clock,
          pollMs: this.opts.tpuPollMs ?? 10_000,
          waitMs: this.opts.tpuWaitMs ?? 3_600_000,
          ...(this.opts.onProgress ? { onProgress: this.opts.onProgress } : {}),
          metadata: () => this.metadata(),
          price,
        }),
    );
    return this.tpuP;
  }

  validateResources(resources: Resources): void {
    validateGcpResources(resources);
  }

  async unpriced(resources: Resources): Promise<UnpricedOffers | undefined> {
    const catalog = await this.catalog();
    const types = resources.tpu
      ? [resources.tpu]
      : (resources.instance_types ?? [resources.instance_type ?? DEFAULT_MACHINE_TYPE]);
    // The regions a launch may use: the zone's, the region, or those of the configured zone list.
    const regions = resources.zone
      ? [regionOf(resources.zone)]
      : resources.region
        ? [resources.region]
        : [...new Set((this.opts.zones ?? []).map(regionOf))];
    const missing = regions.flatMap((region) =>
      types.filter((type) => !gcpPrice(catalog, type, region, resources.spot)).map((type) => ({ type, region })),
    );
    if (!missing.length) return undefined;
    return {
      missing,
      fix: `add its price to ${userGcpCatalogPath(this.opts.home)} (\`spotrun catalog update --provider gcp\` writes it from the Cloud Billing Catalog API), or choose a type and region the catalog prices`,
    };
  }

  async offers(resources: Resources): Promise<Offer[]> {
    validateGcpResources(resources);
    const types = resources.tpu
      ? [resources.tpu]
      : (resources.instance_types ?? [resources.instance_type ?? DEFAULT_MACHINE_TYPE]);
    const zones = resources.zone ? [resources.zone] : resources.region ? await this.zonesOf(resources.region) : [];
    const price = await this.pricer();
    const out: Offer[] = [];
    for (const t of types)
      for (const z of zones.length ? zones : [undefined]) {
        // Compute has no price API: list prices come from the catalog; a type it lacks stays 0, marked unknown.
        const p = price(t, z ? regionOf(z) : resources.region, resources.spot);
        out.push({
          provider: "gcp",
          id: `${t}@${z ?? resources.region ?? "any"}${resources.spot ? ":spot" : ""}`,
          instanceType: t,
          ...(z ? { zone: z, region: regionOf(z) } : resources.region ? { region: resources.region } : {}),
          spot: resources.spot,
          pricePerHour: p?.pricePerHour ?? 0,
          onDemandPricePerHour: p?.onDemandPricePerHour ?? 0,
          detail: p ? { priceKnown: true, priceApproximate: p.approximate, priceSource: "catalog" } : { priceKnown: false },
        });
      }
    return out;
  }

  async launch(req: LaunchRequest): Promise<LaunchResult> {
    if (req.resources.tpu) return (await this.tpu()).launch(req);
    const vms = await this.vms();
    const adopted = await vms.findLaunched(req);
    if (adopted.length >= req.count) return { kind: "launched", instances: adopted };
    let zones = await this.zonesFor(req);
    // Launch where the task's persistent disk already is, if that zone is allowed: no snapshot move.
    const [firstVolume] = volumesOf(req.resources);
    const diskZone = firstVolume ? (await (await this.disks()).locate(firstVolume.name))?.zone : undefined;
    if (diskZone && zones.includes(diskZone)) zones = [diskZone, ...zones.filter((z) => z !== diskZone)];
    const types = req.instanceTypes.length ? req.instanceTypes : [req.resources.instance_type ?? DEFAULT_MACHINE_TYPE];
    const refusals: { refusal: Extract<LaunchResult, { kind: "refused" }>; zone: string; type: string }[] = [];
    for (const type of types)
      for (const zone of zones) {
        const r = await vms.launchIn(zone, type, req);
        if (r.kind === "launched") return r;
        refusals.push({ refusal: r, zone, type });
        this.logger.warn({ zone, type, code: r.code }, "GCP refused the launch; trying the next zone/type");
      }
    const last = refusals[refusals.length - 1];
    if (!last) throw new ProviderError("gcp", "NO_ZONES", "no zone to launch in — set resources.zone or resources.region", false);
    return {
      kind: "refused",
      refusal: last.refusal.refusal,
      code: last.refusal.code,
      message: refusals.map((r) => `${r.type}@${r.zone}: ${r.refusal.code}`).join("; "),
    };
  }

  private metadata(volumes: VolumeSpec[] = []): Record<string, string> {
    const mounts = volumes.flatMap((v) => (v.mount ? [{ name: v.name, mount: v.mount }] : []));
    const md: Record<string, string> = {
      "startup-script": startupScript({ volumes: mounts }),
      "shutdown-script": shutdownScript({ sshUser: this.sshUser() }),
    };
    if (this.opts.osLogin) md["enable-oslogin"] = "TRUE";
    else {
      const pub = this.publicKey();
      if (pub) md["ssh-keys"] = `${this.sshUser()}:${pub}`;
    }
    return md;
  }

  /** The agent starts once the startup script has mounted the disks (the controller may log in first). */
  bootMarkers(_instance?: InstanceInfo): BootMarkers | undefined {
    return { ready: READY_MARKER, failed: FAILED_MARKER, log: STARTUP_LOG, waitSeconds: 600 };
  }

  private sshUser(): string {
    return this.opts.sshUser ?? process.env.SPOTRUN_GCP_SSH_USER ?? "spotrun";
  }

  private privateKeyPath(): string {
    return this.opts.sshPrivateKeyPath ?? gcpSshKeyPath(this.opts.home);
  }

  private publicKey(): string | undefined {
    try {
      return readFileSync(`${this.privateKeyPath()}.pub`, "utf8").trim();
    } catch {
      return undefined;
    }
  }

  /** The requested zone first, then the rest of its region; or the region's zones; or the configured list. */
  private async zonesFor(req: LaunchRequest): Promise<string[]> {
    const zone = req.zone ?? req.offer?.zone ?? req.resources.zone;
    const region = req.region ?? req.offer?.region ?? req.resources.region ?? (zone ? regionOf(zone) : undefined);
    const rest = this.opts.zones ?? (region ? await this.zonesOf(region) : []);
    return [...new Set([...(zone ? [zone] : []), ...rest])];
  }

  private async zonesOf(region: string): Promise<string[]> {
    const c = await this.clients();
    try {
      const [r] = await c.regions.get({ project: await this.project(), region });
      return (r.zones ?? []).map(lastSegment).sort();
    } catch (e) {
      throw providerError(e, `read the zones of region ${region}`);
    }
  }

  async describe(ids: InstanceId[]): Promise<InstanceInfo[]> {
    const { vms, tpus } = splitRefs(ids);
    const infos = [
      ...(vms.length ? await (await this.vms()).describe(vms) : []),
      ...(tpus.length ? await (await this.tpu()).describe(tpus) : []),
    ];
    // In the order asked.
    const byId = new Map(infos.map((i) => [i.id as string, i]));
    return ids.flatMap((id) => byId.get(id) ?? []);
  }

  async list(tags: Record<string, string>): Promise<InstanceInfo[]> {
    const out: InstanceInfo[] = [];
    try {
      out.push(...(await (await this.vms()).list(tags)));
    } catch (e) {
      // A TPU-only project may never have enabled Compute Engine: it has no VMs to list.
      if (!isServiceDisabled(e)) throw providerError(e, "list VMs");
      this.logger.debug("Compute Engine API not enabled; listing TPU slices only");
    }
    try {
      out.push(...(await (await this.tpu()).list(tags)));
    } catch (e) {
      // A project that never enabled the TPU API has no slices to list.
      if (!isServiceDisabled(e)) throw e;
      this.logger.debug("TPU API not enabled; listing VMs only");
    }
    return out;
  }

  async terminate(ids: InstanceId[]): Promise<void> {
    const { vms, tpus } = splitRefs(ids);
    if (vms.length) await (await this.vms()).delete(vms);
    // A slice goes as a whole, whichever of its workers were named.
    const slices = new Map(tpus.map((r) => [`${r.zone}/${r.queuedResource}`, r]));
    for (const r of slices.values()) await (await this.tpu()).deleteSlice(r.zone, r.queuedResource);
    await dropHostPins(
      join(this.opts.home, "gcp"),
      ids,
      [...slices.values()].map((r) => `tpu/${r.zone}/${r.queuedResource}/`),
    );
  }

  async transport(instance: InstanceInfo): Promise<Transport> {
    const { connectSsh } = await import("../../transport/ssh/connect.js");
    return connectSsh(await this.sshTarget(instance), { logger: this.logger, clock: this.clock });
  }

  async sshTarget(instance: InstanceInfo): Promise<SshTarget> {
    if (!instance.address)
      throw new ProviderError("gcp", "NO_ADDRESS", `${instance.id} has no IP address yet — wait until it is running`, true);
    return {
      host: instance.address,
      port: 22,
      user: this.sshUser(),
      privateKeyPath: this.privateKeyPath(),
      knownHostsPath: hostPinPath(join(this.opts.home, "gcp"), instance.id),
      label: `ssh:${this.sshUser()}@${instance.address} (${instance.id})`,
    };
  }

  agentEnv(_instance: InstanceInfo): Record<string, string> {
    // On GCE the metadata server is at its well-known address; GCE_METADATA_HOST is only for tests.
    return {};
  }

  async close(): Promise<void> {
    if (this.clientsP && !this.opts.clients) await closeGcpClients(await this.clientsP);
  }
}

function splitRefs(ids: InstanceId[]): { vms: Extract<GcpRef, { kind: "vm" }>[]; tpus: Extract<GcpRef, { kind: "tpu" }>[] } {
  const vms: Extract<GcpRef, { kind: "vm" }>[] = [];
  const tpus: Extract<GcpRef, { kind: "tpu" }>[] = [];
  for (const id of ids) {
    const ref = parseGcpId(id);
    if (!ref) throw new ProviderError("gcp", "BAD_INSTANCE_ID", `not a GCP instance id: ${id}`, false);
    if (ref.kind === "vm") vms.push(ref);
    else tpus.push(ref);
  }
  return { vms, tpus };
}
