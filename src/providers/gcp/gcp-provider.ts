import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { protos } from "@google-cloud/compute";
import { type Clock, systemClock } from "../../base/clock.js";
import { parseDuration } from "../../base/duration.js";
import type { InstanceId } from "../../base/ids.js";
import type { Logger } from "../../base/logger.js";
import type { Resources } from "../../spec/task-schema.js";
import type { Transport } from "../../transport/transport.js";
import {
  type InstanceInfo,
  type InstanceStatus,
  type LaunchRequest,
  type LaunchResult,
  type NoticeSource,
  type Offer,
  type Provider,
  ProviderError,
  TAG,
} from "../provider.js";
import { ComputeOperationError, operationOf, waitZoneOperation } from "./compute-operations.js";
import { GcpDisks, type VolumeSpec, volumesOf } from "./disks.js";
import { closeGcpClients, createGcpClients, type GcpClients, resolveProject } from "./gcp-clients.js";
import { classifyError, classifyGcpError, type GcpErrorClass, isServiceDisabled } from "./gcp-errors.js";
import { formatGcpId, lastSegment, parseGcpId, regionOf } from "./gcp-instance-id.js";
import { fromLabels, labelFilter, TAGS_METADATA_KEY, toLabels } from "./gcp-labels.js";
import { requestIdOf, resourceName } from "./gcp-names.js";
import { gcpSshKeyPath } from "./setup-checks.js";
import { agentLauncher, shutdownScript, spotrunVersion, startupScript } from "./startup-script.js";
import { providerError, type TpuProgress, TpuSlices } from "./tpu-slices.js";

type Instance = protos.google.cloud.compute.v1.IInstance;
type Scheduling = protos.google.cloud.compute.v1.IScheduling;

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
}

const DEFAULT_MACHINE_TYPE = "e2-standard-4";
const DEFAULT_IMAGE = "projects/debian-cloud/global/images/family/debian-12";
/** Async iterators page on demand anyway; saying so keeps google-gax from warning on every call. */
const NO_AUTOPAGE = { autoPaginate: false } as const;
/** Marks a VM with the launch token's name, so a relaunch finds it in any zone and adopts it. */
const LAUNCH_LABEL = "spotrun-launch";

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
  private readonly clock: Clock;
  private readonly logger: Logger;
  private clientsP: Promise<GcpClients> | undefined;
  private projectP: Promise<string> | undefined;
  private tpuP: Promise<TpuSlices> | undefined;
  private disksP: Promise<GcpDisks> | undefined;

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
    if (opts.clients) this.clientsP = Promise.resolve(opts.clients);
  }

  private clients(): Promise<GcpClients> {
    this.clientsP ??= createGcpClients();
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

  private tpu(): Promise<TpuSlices> {
    this.tpuP ??= this.clients().then(
      (clients) =>
        new TpuSlices({
          clients,
          project: () => this.project(),
          logger: this.logger,
          clock: this.clock,
          pollMs: this.opts.tpuPollMs ?? 10_000,
          waitMs: this.opts.tpuWaitMs ?? 3_600_000,
          ...(this.opts.onProgress ? { onProgress: this.opts.onProgress } : {}),
          metadata: () => this.metadata(),
        }),
    );
    return this.tpuP;
  }

  async offers(resources: Resources): Promise<Offer[]> {
    const types = resources.tpu
      ? [resources.tpu]
      : (resources.instance_types ?? [resources.instance_type ?? DEFAULT_MACHINE_TYPE]);
    const zones = resources.zone ? [resources.zone] : resources.region ? await this.zonesOf(resources.region) : [];
    const out: Offer[] = [];
    for (const t of types)
      for (const z of zones.length ? zones : [undefined])
        out.push({
          provider: "gcp",
          id: `${t}@${z ?? resources.region ?? "any"}${resources.spot ? ":spot" : ""}`,
          instanceType: t,
          ...(z ? { zone: z, region: regionOf(z) } : resources.region ? { region: resources.region } : {}),
          spot: resources.spot,
          // Compute has no price API; the Cloud Billing catalog is not wired in, so prices are unknown here.
          pricePerHour: 0,
          onDemandPricePerHour: 0,
          detail: { priceKnown: false },
        });
    return out;
  }

  async launch(req: LaunchRequest): Promise<LaunchResult> {
    if (req.resources.tpu) return (await this.tpu()).launch(req);
    const c = await this.clients();
    const project = await this.project();
    const adopted = await this.findLaunched(req);
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
        const r = await this.launchIn(c, project, zone, type, req);
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

  private async launchIn(c: GcpClients, project: string, zone: string, type: string, req: LaunchRequest): Promise<LaunchResult> {
    const launched: InstanceInfo[] = [];
    for (let node = 0; node < req.count; node++) {
      const name = resourceName(req.token, req.count > 1 ? `n${node}` : "");
      const outcome = await this.insert(c, project, zone, type, name, node, req);
      if (outcome.kind === "refused") {
        // A group that does not fit in one zone is not kept half-placed.
        await this.terminate(launched.map((i) => i.id));
        return { kind: "refused", refusal: outcome.refusal, code: outcome.code, message: `${type} in ${zone}: ${outcome.code}` };
      }
      launched.push(outcome.instance);
    }
    return { kind: "launched", instances: launched };
  }

  private async insert(
    c: GcpClients,
    project: string,
    zone: string,
    type: string,
    name: string,
    node: number,
    req: LaunchRequest,
  ): Promise<{ kind: "ok"; instance: InstanceInfo } | Extract<GcpErrorClass, { kind: "refused" }>> {
    const tags = { ...req.tags, [TAG.node]: String(node) };
    const labels = { ...toLabels(tags), [LAUNCH_LABEL]: resourceName(req.token) };
    // Persistent disks go to node 0 only (a disk is attached read-write to one VM), at insert time,
    // so they are there when the startup script mounts them.
    const volumes = node === 0 ? volumesOf(req.resources) : [];
    const ready = volumes.length
      ? await (await this.disks()).prepareIn(zone, volumes, resourceName(req.token).slice(0, 40), name)
      : [];
    const instanceResource: Instance = {
      name,
      machineType: `zones/${zone}/machineTypes/${type}`,
      labels,
      scheduling: this.scheduling(req),
      disks: [
        {
          boot: true,
          autoDelete: true,
          initializeParams: { sourceImage: this.opts.image ?? DEFAULT_IMAGE, diskSizeGb: String(req.resources.disk ?? 50) },
        },
        ...ready.map((d) => ({ source: d.selfLink, deviceName: d.name, mode: "READ_WRITE", boot: false, autoDelete: false })),
      ],
      networkInterfaces: [
        { network: "global/networks/default", accessConfigs: [{ type: "ONE_TO_ONE_NAT", name: "External NAT" }] },
      ],
      // The agent uploads checkpoints with the VM's service account.
      serviceAccounts: [{ email: "default", scopes: ["https://www.googleapis.com/auth/cloud-platform"] }],
      metadata: {
        items: Object.entries({ ...this.metadata(volumes), [TAGS_METADATA_KEY]: JSON.stringify(tags) }).map(([key, value]) => ({
          key,
          value,
        })),
      },
    };
    try {
      const [lro] = await c.instances.insert({
        project,
        zone,
        requestId: requestIdOf(`${req.token}/${zone}/${name}`),
        instanceResource,
      });
      await waitZoneOperation(c, project, zone, operationOf(lro));
    } catch (e) {
      const cls = e instanceof ComputeOperationError ? classifyGcpError(e.info) : classifyError(e);
      if (cls.kind === "refused") return cls;
      if (cls.kind !== "already-exists") throw providerError(e, `insert ${name} in ${zone}`);
      this.logger.info({ zone, name }, "instance exists; adopting it");
    }
    const [inst] = await c.instances.get({ project, zone, instance: name });
    return { kind: "ok", instance: this.toInfo(inst, zone) };
  }

  private scheduling(req: LaunchRequest): Scheduling {
    if (!req.spot) return { provisioningModel: "STANDARD", automaticRestart: true, onHostMaintenance: "MIGRATE" };
    if (this.opts.legacyPreemptible) return { preemptible: true, automaticRestart: false, onHostMaintenance: "TERMINATE" };
    // STOP keeps the boot disk for a restart in place; DELETE (the default) lets the next attempt
    // start clean elsewhere, with state on a persistent data disk or in the checkpoint store.
    const action = req.resources.on_interruption === "stop" || req.resources.on_interruption === "hibernate" ? "STOP" : "DELETE";
    return {
      provisioningModel: "SPOT",
      instanceTerminationAction: action,
      automaticRestart: false,
      onHostMaintenance: "TERMINATE",
    };
  }

  private metadata(volumes: VolumeSpec[] = []): Record<string, string> {
    const mounts = volumes.flatMap((v) => (v.mount ? [{ name: v.name, mount: v.mount }] : []));
    const md: Record<string, string> = {
      "startup-script": startupScript({ spotrunVersion: this.opts.spotrunVersion ?? spotrunVersion(), volumes: mounts }),
      "shutdown-script": shutdownScript({ sshUser: this.sshUser() }),
    };
    if (this.opts.osLogin) md["enable-oslogin"] = "TRUE";
    else {
      const pub = this.publicKey();
      if (pub) md["ssh-keys"] = `${this.sshUser()}:${pub}`;
    }
    return md;
  }

  /** The controller starts the agent over SSH; this waits for the startup script's install first. */
  agentCommand(): string {
    return agentLauncher();
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

  /** VMs of an earlier run of this same launch (any zone), so a retry adopts instead of launching twice. */
  private async findLaunched(req: LaunchRequest): Promise<InstanceInfo[]> {
    const c = await this.clients();
    const filter = `labels.${LAUNCH_LABEL} = "${resourceName(req.token)}"`;
    const found: InstanceInfo[] = [];
    for await (const [scope, list] of c.instances.aggregatedListAsync({ project: await this.project(), filter }, NO_AUTOPAGE))
      for (const inst of list.instances ?? [])
        if (inst.status !== "TERMINATED") found.push(this.toInfo(inst, lastSegment(scope)));
    return found;
  }

  private toInfo(inst: Instance, zone: string): InstanceInfo {
    const s = inst.scheduling ?? {};
    const nic = inst.networkInterfaces?.[0];
    const address = nic?.accessConfigs?.[0]?.natIP || nic?.networkIP || undefined;
    const launchedAt = inst.creationTimestamp ? Date.parse(inst.creationTimestamp) : this.clock.now();
    return {
      id: formatGcpId({ kind: "vm", zone, name: inst.name ?? "" }),
      provider: "gcp",
      instanceType: lastSegment(inst.machineType),
      zone,
      region: regionOf(zone),
      spot: s.provisioningModel === "SPOT" || s.preemptible === true,
      status: vmStatus(inst.status),
      pricePerHour: 0,
      onDemandPricePerHour: 0,
      launchedAt: Number.isFinite(launchedAt) ? launchedAt : this.clock.now(),
      tags: tagsOf(inst),
      ...(address ? { address } : {}),
    };
  }

  async describe(ids: InstanceId[]): Promise<InstanceInfo[]> {
    const c = await this.clients();
    const project = await this.project();
    const out: InstanceInfo[] = [];
    const tpuRefs = [];
    for (const id of ids) {
      const ref = parseGcpId(id);
      if (!ref) throw new ProviderError("gcp", "BAD_INSTANCE_ID", `not a GCP instance id: ${id}`, false);
      if (ref.kind === "tpu") {
        tpuRefs.push(ref);
        continue;
      }
      let info: InstanceInfo;
      try {
        const [inst] = await c.instances.get({ project, zone: ref.zone, instance: ref.name });
        info = this.toInfo(inst, ref.zone);
      } catch (e) {
        if (classifyError(e).kind !== "not-found") throw providerError(e, `describe ${id}`);
        const now = this.clock.now();
        info = {
          id,
          provider: "gcp",
          instanceType: "",
          zone: ref.zone,
          region: regionOf(ref.zone),
          spot: true,
          status: "terminated",
          pricePerHour: 0,
          onDemandPricePerHour: 0,
          launchedAt: now,
          endedAt: now,
          tags: {},
        };
      }
      // Only a VM that stopped or vanished can have been preempted; a running one costs no extra call.
      if (info.status !== "running" && info.status !== "pending" && (info.spot || info.status === "terminated")) {
        const at = await this.preemptedAt(c, project, ref.zone, ref.name);
        if (at !== undefined) info.interrupted = { reason: "gce-preempted", at };
      }
      out.push(info);
    }
    if (tpuRefs.length) out.push(...(await (await this.tpu()).describe(tpuRefs)));
    return out;
  }

  /** GCE logs a `compute.instances.preempted` zone operation when it reclaims a spot VM. */
  private async preemptedAt(c: GcpClients, project: string, zone: string, name: string): Promise<number | undefined> {
    const target = `https://www.googleapis.com/compute/v1/projects/${project}/zones/${zone}/instances/${name}`;
    const filter = `operationType = "compute.instances.preempted" AND targetLink = "${target}"`;
    for await (const op of c.zoneOperations.listAsync({ project, zone, filter }, NO_AUTOPAGE)) {
      const t = Date.parse(op.insertTime ?? "");
      return Number.isFinite(t) ? t : this.clock.now();
    }
    return undefined;
  }

  async list(tags: Record<string, string>): Promise<InstanceInfo[]> {
    const c = await this.clients();
    const out: InstanceInfo[] = [];
    const filter = labelFilter(tags);
    const request = { project: await this.project(), ...(filter ? { filter } : {}) };
    try {
      for await (const [scope, list] of c.instances.aggregatedListAsync(request, NO_AUTOPAGE))
        for (const inst of list.instances ?? []) out.push(this.toInfo(inst, lastSegment(scope)));
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
    const c = await this.clients();
    const project = await this.project();
    const slices = new Set<string>();
    for (const id of ids) {
      const ref = parseGcpId(id);
      if (!ref) throw new ProviderError("gcp", "BAD_INSTANCE_ID", `not a GCP instance id: ${id}`, false);
      if (ref.kind === "tpu") {
        slices.add(`${ref.zone}/${ref.queuedResource}`);
        continue;
      }
      try {
        const [lro] = await c.instances.delete({
          project,
          zone: ref.zone,
          instance: ref.name,
          requestId: requestIdOf(`delete/${id}`),
        });
        await waitZoneOperation(c, project, ref.zone, operationOf(lro));
      } catch (e) {
        if (classifyError(e).kind !== "not-found") throw providerError(e, `delete ${id}`);
      }
    }
    for (const s of slices) {
      const [zone, qr] = s.split("/") as [string, string];
      await (await this.tpu()).deleteSlice(zone, qr);
    }
  }

  async transport(instance: InstanceInfo): Promise<Transport> {
    if (!instance.address)
      throw new ProviderError("gcp", "NO_ADDRESS", `${instance.id} has no IP address yet — wait until it is running`, true);
    const { connectSsh } = await import("../../transport/ssh/connect.js");
    return connectSsh(
      {
        host: instance.address,
        port: 22,
        user: this.sshUser(),
        privateKeyPath: this.privateKeyPath(),
        knownHostsPath: join(this.opts.home, "gcp", "known_hosts"),
        label: `ssh:${this.sshUser()}@${instance.address} (${instance.id})`,
      },
      { logger: this.logger, clock: this.clock },
    );
  }

  agentEnv(_instance: InstanceInfo): Record<string, string> {
    // On GCE the metadata server is at its well-known address; GCE_METADATA_HOST is only for tests.
    return {};
  }

  async close(): Promise<void> {
    if (this.clientsP && !this.opts.clients) await closeGcpClients(await this.clientsP);
  }
}

function vmStatus(s: string | null | undefined): InstanceStatus {
  switch (s) {
    case "RUNNING":
      return "running";
    case "STOPPING":
    case "SUSPENDING":
      return "stopping";
    case "TERMINATED":
    case "STOPPED":
    case "SUSPENDED":
      return "stopped";
    default:
      return "pending";
  }
}

function tagsOf(inst: Instance): Record<string, string> {
  const raw = inst.metadata?.items?.find((i) => i.key === TAGS_METADATA_KEY)?.value;
  if (raw) {
    try {
      const t = JSON.parse(raw) as unknown;
      if (t && typeof t === "object") return t as Record<string, string>;
    } catch {
      // fall back to the labels
    }
  }
  const labels = { ...(inst.labels ?? {}) };
  delete labels[LAUNCH_LABEL];
  return fromLabels(labels);
}
