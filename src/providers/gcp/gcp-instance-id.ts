import { InstanceId } from "../../base/ids.js";

/**
 * Instance ids carry the zone, because every Compute and TPU call is zonal: `vm/<zone>/<name>`
 * for a Compute VM and `tpu/<zone>/<queued-resource>/<worker>` for one worker of a TPU slice.
 */
export type GcpRef =
  | { kind: "vm"; zone: string; name: string }
  | { kind: "tpu"; zone: string; queuedResource: string; worker: number };

export function formatGcpId(ref: GcpRef): InstanceId {
  return InstanceId(ref.kind === "vm" ? `vm/${ref.zone}/${ref.name}` : `tpu/${ref.zone}/${ref.queuedResource}/${ref.worker}`);
}

export function parseGcpId(id: string): GcpRef | undefined {
  const p = id.split("/");
  if (p[0] === "vm" && p.length === 3 && p[1] && p[2]) return { kind: "vm", zone: p[1], name: p[2] };
  if (p[0] === "tpu" && p.length === 4 && p[1] && p[2] && /^\d+$/.test(p[3] ?? ""))
    return { kind: "tpu", zone: p[1], queuedResource: p[2], worker: Number(p[3]) };
  return undefined;
}

/** `us-central1-a` → `us-central1`. */
export const regionOf = (zone: string): string => zone.replace(/-[a-z]$/, "");

/** The last segment of a Compute URL or resource name. */
export const lastSegment = (s: string | null | undefined): string =>
  String(s ?? "")
    .split("/")
    .pop() ?? "";
