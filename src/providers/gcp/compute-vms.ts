import type { protos } from "@google-cloud/compute";
import type { Clock } from "../../base/clock.js";
import type { Logger } from "../../base/logger.js";
import { type InstanceInfo, type InstanceStatus, type LaunchRequest, type LaunchResult, TAG } from "../provider.js";
import { ComputeOperationError, operationOf, waitZoneOperation } from "./compute-operations.js";
import { type GcpDisks, type VolumeSpec, volumesOf } from "./disks.js";
import type { GcpClients } from "./gcp-clients.js";
import { classifyError, classifyGcpError, type GcpErrorClass } from "./gcp-errors.js";
import { formatGcpId, type GcpRef, lastSegment, regionOf } from "./gcp-instance-id.js";
import { fromLabels, labelFilter, TAGS_METADATA_KEY, toLabels } from "./gcp-labels.js";
import { requestIdOf, resourceName } from "./gcp-names.js";
import type { GcpPricer } from "./gcp-price-catalog.js";
import { providerError } from "./tpu-slices.js";

type Instance = protos.google.cloud.compute.v1.IInstance;
type Scheduling = protos.google.cloud.compute.v1.IScheduling;
type VmRef = Extract<GcpRef, { kind: "vm" }>;

export interface ComputeVmsDeps {
  clients: GcpClients;
  project: () => Promise<string>;
  logger: Logger;
  clock: Clock;
  disks: () => Promise<GcpDisks>;
  /** Instance metadata: startup-script (mounting these volumes), shutdown-script, ssh-keys. */
  metadata: (volumes: VolumeSpec[]) => Record<string, string>;
  image: string;
  /** The older `preemptible: true` instead of `provisioningModel: SPOT`. */
  legacyPreemptible: boolean;
  /** List price of a machine type in a region (undefined: unknown, reported as 0). */
  price: GcpPricer;
}

/** Async iterators page on demand anyway; saying so keeps google-gax from warning on every call. */
const NO_AUTOPAGE = { autoPaginate: false } as const;
/** Marks a VM with the launch token's name, so a relaunch finds it in any zone and adopts it. */
const LAUNCH_LABEL = "spotrun-launch";

/**
 * Compute Engine VMs for one launch in one zone: insert (SPOT scheduling, labels, metadata, the
 * task's persistent disks), wait on the zone operation, classify a refusal by its code; and
 * describe, list and delete them. The provider decides which zone and type to try next.
 */
export class ComputeVms {
  constructor(private readonly d: ComputeVmsDeps) {}

  /** VMs of an earlier run of this same launch (any zone), so a retry adopts instead of launching twice. */
  async findLaunched(req: LaunchRequest): Promise<InstanceInfo[]> {
    const filter = `labels.${LAUNCH_LABEL} = "${resourceName(req.token)}"`;
    const found: InstanceInfo[] = [];
    for await (const [scope, list] of this.d.clients.instances.aggregatedListAsync(
      { project: await this.d.project(), filter },
      NO_AUTOPAGE,
    ))
      for (const inst of list.instances ?? [])
        if (inst.status !== "TERMINATED") found.push(this.toInfo(inst, lastSegment(scope)));
    return found;
  }

  /** All `count` VMs in `zone`, or a refusal (and none left behind: a group is not kept half-placed). */
  async launchIn(zone: string, type: string, req: LaunchRequest): Promise<LaunchResult> {
    const launched: InstanceInfo[] = [];
    for (let node = 0; node < req.count; node++) {
      const name = resourceName(req.token, req.count > 1 ? `n${node}` : "");
      const outcome = await this.insert(zone, type, name, node, req);
      if (outcome.kind === "refused") {
        await this.delete(launched.map((i) => ({ kind: "vm", zone, name: i.id.split("/")[2] as string })));
        return { kind: "refused", refusal: outcome.refusal, code: outcome.code, message: `${type} in ${zone}: ${outcome.code}` };
      }
      launched.push(outcome.instance);
    }
    return { kind: "launched", instances: launched };
  }

  private async insert(
    zone: string,
    type: string,
    name: string,
    node: number,
    req: LaunchRequest,
  ): Promise<{ kind: "ok"; instance: InstanceInfo } | Extract<GcpErrorClass, { kind: "refused" }>> {
    const c = this.d.clients;
    const project = await this.d.project();
    const tags = { ...req.tags, [TAG.node]: String(node) };
    const labels = { ...toLabels(tags), [LAUNCH_LABEL]: resourceName(req.token) };
    // Persistent disks go to node 0 only (a disk is attached read-write to one VM), at insert time,
    // so they are there when the startup script mounts them.
    const volumes = node === 0 ? volumesOf(req.resources) : [];
    const ready = volumes.length
      ? await (await this.d.disks()).prepareIn(zone, volumes, resourceName(req.token).slice(0, 40), name)
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
          initializeParams: { sourceImage: this.d.image, diskSizeGb: String(req.resources.disk ?? 50) },
        },
        ...ready.map((d) => ({ source: d.selfLink, deviceName: d.name, mode: "READ_WRITE", boot: false, autoDelete: false })),
      ],
      networkInterfaces: [
        { network: "global/networks/default", accessConfigs: [{ type: "ONE_TO_ONE_NAT", name: "External NAT" }] },
      ],
      // The agent uploads checkpoints with the VM's service account.
      serviceAccounts: [{ email: "default", scopes: ["https://www.googleapis.com/auth/cloud-platform"] }],
      metadata: {
        items: Object.entries({ ...this.d.metadata(volumes), [TAGS_METADATA_KEY]: JSON.stringify(tags) }).map(([key, value]) => ({
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
      this.d.logger.info({ zone, name }, "instance exists; adopting it");
    }
    const [inst] = await c.instances.get({ project, zone, instance: name });
    return { kind: "ok", instance: this.toInfo(inst, zone) };
  }

  private scheduling(req: LaunchRequest): Scheduling {
    if (!req.spot) return { provisioningModel: "STANDARD", automaticRestart: true, onHostMaintenance: "MIGRATE" };
    if (this.d.legacyPreemptible) return { preemptible: true, automaticRestart: false, onHostMaintenance: "TERMINATE" };
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

  async describe(refs: VmRef[]): Promise<InstanceInfo[]> {
    const project = await this.d.project();
    const out: InstanceInfo[] = [];
    for (const ref of refs) {
      const id = formatGcpId(ref);
      let info: InstanceInfo;
      try {
        const [inst] = await this.d.clients.instances.get({ project, zone: ref.zone, instance: ref.name });
        info = this.toInfo(inst, ref.zone);
      } catch (e) {
        if (classifyError(e).kind !== "not-found") throw providerError(e, `describe ${id}`);
        const now = this.d.clock.now();
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
        const at = await this.preemptedAt(project, ref);
        if (at !== undefined) info.interrupted = { reason: "gce-preempted", at };
      }
      out.push(info);
    }
    return out;
  }

  /** GCE logs a `compute.instances.preempted` zone operation when it reclaims a spot VM. */
  private async preemptedAt(project: string, ref: VmRef): Promise<number | undefined> {
    const target = `https://www.googleapis.com/compute/v1/projects/${project}/zones/${ref.zone}/instances/${ref.name}`;
    const filter = `operationType = "compute.instances.preempted" AND targetLink = "${target}"`;
    for await (const op of this.d.clients.zoneOperations.listAsync({ project, zone: ref.zone, filter }, NO_AUTOPAGE)) {
      const t = Date.parse(op.insertTime ?? "");
      return Number.isFinite(t) ? t : this.d.clock.now();
    }
    return undefined;
  }

  /** Every VM carrying all the labels, across zones (aggregated list). */
  async list(tags: Record<string, string>): Promise<InstanceInfo[]> {
    const filter = labelFilter(tags);
    const out: InstanceInfo[] = [];
    const request = { project: await this.d.project(), ...(filter ? { filter } : {}) };
    for await (const [scope, list] of this.d.clients.instances.aggregatedListAsync(request, NO_AUTOPAGE))
      for (const inst of list.instances ?? []) out.push(this.toInfo(inst, lastSegment(scope)));
    return out;
  }

  /** Delete and wait; a VM already gone is fine. */
  async delete(refs: VmRef[]): Promise<void> {
    const project = await this.d.project();
    for (const ref of refs) {
      const id = formatGcpId(ref);
      try {
        const [lro] = await this.d.clients.instances.delete({
          project,
          zone: ref.zone,
          instance: ref.name,
          requestId: requestIdOf(`delete/${id}`),
        });
        await waitZoneOperation(this.d.clients, project, ref.zone, operationOf(lro));
      } catch (e) {
        if (classifyError(e).kind !== "not-found") throw providerError(e, `delete ${id}`);
      }
    }
  }

  private toInfo(inst: Instance, zone: string): InstanceInfo {
    const s = inst.scheduling ?? {};
    const nic = inst.networkInterfaces?.[0];
    const address = nic?.accessConfigs?.[0]?.natIP || nic?.networkIP || undefined;
    const launchedAt = inst.creationTimestamp ? Date.parse(inst.creationTimestamp) : this.d.clock.now();
    const instanceType = lastSegment(inst.machineType);
    const spot = s.provisioningModel === "SPOT" || s.preemptible === true;
    const price = this.d.price(instanceType, regionOf(zone), spot);
    return {
      id: formatGcpId({ kind: "vm", zone, name: inst.name ?? "" }),
      provider: "gcp",
      instanceType,
      zone,
      region: regionOf(zone),
      spot,
      status: vmStatus(inst.status),
      pricePerHour: price?.pricePerHour ?? 0,
      onDemandPricePerHour: price?.onDemandPricePerHour ?? 0,
      launchedAt: Number.isFinite(launchedAt) ? launchedAt : this.d.clock.now(),
      tags: tagsOf(inst),
      ...(address ? { address } : {}),
    };
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
