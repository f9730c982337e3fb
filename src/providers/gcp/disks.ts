import type { protos } from "@google-cloud/compute";
import type { Logger } from "../../base/logger.js";
import { ProviderError } from "../provider.js";
import { operationOf, waitGlobalOperation, waitZoneOperation } from "./compute-operations.js";
import type { GcpClients } from "./gcp-clients.js";
import { classifyError } from "./gcp-errors.js";
import { lastSegment } from "./gcp-instance-id.js";
import { toLabels } from "./gcp-labels.js";
import { requestIdOf } from "./gcp-names.js";
import { providerError } from "./tpu-slices.js";

type Disk = protos.google.cloud.compute.v1.IDisk;

/** A named persistent disk a task asks for (`volumes: [{name, size, mount}]`). */
export interface VolumeSpec {
  name: string;
  sizeGb: number;
  /** Where the startup script mounts it on the VM (formatted ext4 on first use). */
  mount?: string;
  /** pd-balanced (default), pd-ssd, pd-standard, hyperdisk-balanced … */
  type?: string;
  tags?: Record<string, string>;
}

export interface DiskInfo {
  name: string;
  zone: string;
  sizeGb: number;
  selfLink: string;
  /** Instance URLs it is attached to. */
  users: string[];
}

export interface VmRef {
  zone: string;
  name: string;
}

/**
 * Persistent disks that outlive spot VMs: created once, attached to the job's VM, moved to the
 * replacement VM in the same zone (detached from the reclaimed one first when GCE kept it
 * STOPPED), carried to another zone by snapshot, and resized.
 */
export class GcpDisks {
  constructor(
    private readonly c: GcpClients,
    private readonly project: string,
    private readonly logger: Logger,
  ) {}

  async get(zone: string, name: string): Promise<DiskInfo | undefined> {
    try {
      const [d] = await this.c.disks.get({ project: this.project, zone, disk: name });
      return toDiskInfo(d, zone);
    } catch (e) {
      if (classifyError(e).kind === "not-found") return undefined;
      throw providerError(e, `read disk ${name} in ${zone}`);
    }
  }

  /** Find the disk by name in any zone of the project. */
  async locate(name: string): Promise<DiskInfo | undefined> {
    try {
      for await (const [scope, list] of this.c.disks.aggregatedListAsync(
        { project: this.project, filter: `name = "${name}"` },
        { autoPaginate: false },
      ))
        for (const d of list.disks ?? []) if (d.name === name) return toDiskInfo(d, lastSegment(scope));
      return undefined;
    } catch (e) {
      throw providerError(e, `find disk ${name}`);
    }
  }

  /**
   * Make each volume ready to attach in `zone` before a VM is inserted there: create it the first
   * time, carry it over by snapshot when it lives in another zone (then delete the old copy), and
   * free it from a VM that still holds it (a spot VM GCE stopped rather than deleted).
   */
  async prepareIn(zone: string, specs: VolumeSpec[], snapshotSuffix: string, forVm?: string): Promise<DiskInfo[]> {
    // The VM being (re)inserted may already hold the disk when a launch is retried; leave it attached.
    const stale = (users: string[], z: string) => users.filter((u) => !(forVm && u.endsWith(`/zones/${z}/instances/${forVm}`)));
    const out: DiskInfo[] = [];
    for (const spec of specs) {
      const found = await this.locate(spec.name);
      let disk: DiskInfo;
      if (!found) disk = await this.ensure(zone, spec);
      else if (found.zone !== zone) {
        for (const user of stale(found.users, found.zone))
          await this.detach({ zone: found.zone, name: lastSegment(user) }, spec.name);
        disk = await this.moveTo(found.zone, zone, spec, `${spec.name}-${snapshotSuffix}`.slice(0, 63).replace(/-$/, ""));
        await this.delete(found.zone, spec.name);
        this.logger.info({ disk: spec.name, from: found.zone, to: zone }, "moved disk by snapshot");
      } else {
        for (const user of stale(found.users, zone)) await this.detach({ zone, name: lastSegment(user) }, spec.name);
        disk = (await this.get(zone, spec.name)) as DiskInfo;
      }
      out.push(disk);
    }
    return out;
  }

  /** Create the disk unless it exists (a rerun adopts it), optionally from a snapshot. */
  async ensure(zone: string, spec: VolumeSpec, sourceSnapshot?: string): Promise<DiskInfo> {
    const existing = await this.get(zone, spec.name);
    if (existing) return existing;
    const diskResource: Disk = {
      name: spec.name,
      sizeGb: String(spec.sizeGb),
      type: `zones/${zone}/diskTypes/${spec.type ?? "pd-balanced"}`,
      labels: toLabels(spec.tags ?? {}),
      ...(sourceSnapshot ? { sourceSnapshot: `global/snapshots/${sourceSnapshot}` } : {}),
    };
    try {
      const [lro] = await this.c.disks.insert({
        project: this.project,
        zone,
        requestId: requestIdOf(`disk/${zone}/${spec.name}`),
        diskResource,
      });
      await waitZoneOperation(this.c, this.project, zone, operationOf(lro));
    } catch (e) {
      if (classifyError(e).kind !== "already-exists") throw providerError(e, `create disk ${spec.name} in ${zone}`);
    }
    const made = await this.get(zone, spec.name);
    if (!made)
      throw new ProviderError("gcp", "DISK_MISSING", `disk ${spec.name} in ${zone} is missing right after its creation`, true);
    return made;
  }

  /**
   * Attach the disk read-write to `vm` (device name = disk name, so it shows as
   * /dev/disk/by-id/google-<name>). If another VM still holds it — a spot VM GCE stopped rather
   * than deleted — it is detached from that VM first.
   */
  async attachTo(vm: VmRef, diskName: string): Promise<void> {
    const disk = await this.get(vm.zone, diskName);
    if (!disk)
      throw new ProviderError(
        "gcp",
        "DISK_NOT_FOUND",
        `disk ${diskName} not found in ${vm.zone} — create it there or move it with a snapshot`,
        false,
      );
    const target = `/zones/${vm.zone}/instances/${vm.name}`;
    if (disk.users.some((u) => u.endsWith(target))) return;
    for (const user of disk.users) await this.detach({ zone: vm.zone, name: lastSegment(user) }, diskName);
    try {
      const [lro] = await this.c.instances.attachDisk({
        project: this.project,
        zone: vm.zone,
        instance: vm.name,
        attachedDiskResource: { source: disk.selfLink, deviceName: diskName, mode: "READ_WRITE", autoDelete: false },
      });
      await waitZoneOperation(this.c, this.project, vm.zone, operationOf(lro));
    } catch (e) {
      throw providerError(e, `attach disk ${diskName} to ${vm.name}`);
    }
  }

  async detach(vm: VmRef, diskName: string): Promise<void> {
    try {
      const [inst] = await this.c.instances.get({ project: this.project, zone: vm.zone, instance: vm.name });
      const att = (inst.disks ?? []).find((d) => lastSegment(d.source) === diskName);
      if (!att) return;
      const [lro] = await this.c.instances.detachDisk({
        project: this.project,
        zone: vm.zone,
        instance: vm.name,
        deviceName: att.deviceName ?? diskName,
      });
      await waitZoneOperation(this.c, this.project, vm.zone, operationOf(lro));
      this.logger.info({ disk: diskName, from: vm.name }, "detached disk");
    } catch (e) {
      if (classifyError(e).kind === "not-found") return;
      throw providerError(e, `detach disk ${diskName} from ${vm.name}`);
    }
  }

  async snapshot(zone: string, diskName: string, snapshotName: string): Promise<void> {
    try {
      const [lro] = await this.c.disks.createSnapshot({
        project: this.project,
        zone,
        disk: diskName,
        requestId: requestIdOf(`snapshot/${zone}/${diskName}/${snapshotName}`),
        snapshotResource: { name: snapshotName, labels: { "spotrun-disk": diskName } },
      });
      await waitZoneOperation(this.c, this.project, zone, operationOf(lro));
    } catch (e) {
      throw providerError(e, `snapshot disk ${diskName} in ${zone}`);
    }
  }

  /**
   * Carry a disk to another zone: snapshot it, create the same-named disk there from the
   * snapshot, then drop the snapshot (the source disk stays until the caller deletes it).
   */
  async moveTo(fromZone: string, toZone: string, spec: VolumeSpec, snapshotName: string): Promise<DiskInfo> {
    const present = await this.get(toZone, spec.name);
    if (present) return present;
    await this.snapshot(fromZone, spec.name, snapshotName);
    const made = await this.ensure(toZone, spec, snapshotName);
    await this.deleteSnapshot(snapshotName);
    return made;
  }

  async resize(zone: string, diskName: string, sizeGb: number): Promise<DiskInfo> {
    const disk = await this.get(zone, diskName);
    if (!disk) throw new ProviderError("gcp", "DISK_NOT_FOUND", `disk ${diskName} not found in ${zone}`, false);
    if (sizeGb <= disk.sizeGb)
      throw new ProviderError(
        "gcp",
        "DISK_SHRINK",
        `disk ${diskName} is ${disk.sizeGb} GB; persistent disks only grow — give a size above ${disk.sizeGb}`,
        false,
      );
    try {
      const [lro] = await this.c.disks.resize({
        project: this.project,
        zone,
        disk: diskName,
        disksResizeRequestResource: { sizeGb: String(sizeGb) },
      });
      await waitZoneOperation(this.c, this.project, zone, operationOf(lro));
    } catch (e) {
      throw providerError(e, `resize disk ${diskName}`);
    }
    return (await this.get(zone, diskName)) as DiskInfo;
  }

  async delete(zone: string, diskName: string): Promise<void> {
    try {
      const [lro] = await this.c.disks.delete({ project: this.project, zone, disk: diskName });
      await waitZoneOperation(this.c, this.project, zone, operationOf(lro));
    } catch (e) {
      if (classifyError(e).kind !== "not-found") throw providerError(e, `delete disk ${diskName}`);
    }
  }

  async deleteSnapshot(name: string): Promise<void> {
    try {
      const [lro] = await this.c.snapshots.delete({ project: this.project, snapshot: name });
      await waitGlobalOperation(this.c, this.project, operationOf(lro));
    } catch (e) {
      if (classifyError(e).kind !== "not-found") throw providerError(e, `delete snapshot ${name}`);
    }
  }
}

function toDiskInfo(d: Disk, zone: string): DiskInfo {
  return { name: d.name ?? "", zone, sizeGb: Number(d.sizeGb ?? 0), selfLink: d.selfLink ?? "", users: [...(d.users ?? [])] };
}

/**
 * The task's `resources.volumes` (`[{name, size, mount, type?}]`, size in GB). The task schema does
 * not carry this field yet, so it is read and checked here; anything malformed is a usage error.
 */
export function volumesOf(resources: object): VolumeSpec[] {
  const raw = (resources as { volumes?: unknown }).volumes;
  if (raw === undefined) return [];
  if (!Array.isArray(raw))
    throw new ProviderError("gcp", "BAD_VOLUMES", "resources.volumes must be a list of {name, size, mount}", false);
  return raw.map((v: unknown, i) => {
    const o = (v ?? {}) as { name?: unknown; size?: unknown; mount?: unknown; type?: unknown };
    if (typeof o.name !== "string" || !/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/.test(o.name))
      throw new ProviderError(
        "gcp",
        "BAD_VOLUMES",
        `resources.volumes[${i}].name must be a GCP disk name (lowercase letters, digits, '-')`,
        false,
      );
    if (typeof o.size !== "number" || !(o.size > 0))
      throw new ProviderError("gcp", "BAD_VOLUMES", `resources.volumes[${i}].size must be a size in GB`, false);
    if (typeof o.mount !== "string" || !o.mount.startsWith("/"))
      throw new ProviderError("gcp", "BAD_VOLUMES", `resources.volumes[${i}].mount must be an absolute path`, false);
    return { name: o.name, sizeGb: o.size, mount: o.mount, ...(typeof o.type === "string" ? { type: o.type } : {}) };
  });
}
