import type { Provider } from "../providers/provider.js";

/** What sessions need of a provider's persistent disks; the GCP provider's `disks()` answers it. */
export interface DiskOps {
  locate(name: string): Promise<{ zone: string; sizeGb: number } | undefined>;
  resize(zone: string, name: string, sizeGb: number): Promise<{ sizeGb: number }>;
  delete(zone: string, name: string): Promise<void>;
}

interface WithDisks {
  disks(): Promise<DiskOps>;
}

const hasDisks = (p: Provider): p is Provider & WithDisks => typeof (p as Partial<WithDisks>).disks === "function";

export type DiskResize =
  | { kind: "resized"; zone: string; size_gb: number }
  | { kind: "not_created"; size_gb: number }
  | { kind: "no_disks" };

/**
 * Grow the session's disk where it lives now. A disk not created yet (the session never launched)
 * needs nothing: it is created at the size the session records.
 */
export async function resizeProviderVolume(provider: Provider, diskName: string, sizeBytes: number): Promise<DiskResize> {
  if (!hasDisks(provider)) return { kind: "no_disks" };
  const sizeGb = Math.ceil(sizeBytes / 1024 ** 3);
  const disks = await provider.disks();
  const disk = await disks.locate(diskName);
  if (!disk) return { kind: "not_created", size_gb: sizeGb };
  if (disk.sizeGb >= sizeGb) return { kind: "resized", zone: disk.zone, size_gb: disk.sizeGb };
  const after = await disks.resize(disk.zone, diskName, sizeGb);
  return { kind: "resized", zone: disk.zone, size_gb: after.sizeGb };
}

/** Delete the session's disk wherever it is; false when there was none. */
export async function deleteProviderVolume(provider: Provider, diskName: string): Promise<boolean> {
  if (!hasDisks(provider)) return false;
  const disks = await provider.disks();
  const disk = await disks.locate(diskName);
  if (!disk) return false;
  await disks.delete(disk.zone, diskName);
  return true;
}
