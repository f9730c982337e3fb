/**
 * Cloud TPU accelerator types (`v5litepod-8`, `v4-32`, …): how many hosts (workers) a slice has
 * and the software version it boots by default. The count after the dash is TensorCores for v2–v5p
 * (8 per host) and chips for v5e/v6e (up to 8 on one host, 4 per host beyond that).
 */
export interface TpuType {
  acceleratorType: string;
  generation: "v2" | "v3" | "v4" | "v5p" | "v5litepod" | "v6e";
  size: number;
  hosts: number;
  runtimeVersion: string;
}

const RUNTIME: Record<TpuType["generation"], string> = {
  v2: "tpu-ubuntu2204-base",
  v3: "tpu-ubuntu2204-base",
  v4: "tpu-ubuntu2204-base",
  v5p: "v2-alpha-tpuv5",
  v5litepod: "v2-alpha-tpuv5-lite",
  v6e: "v2-alpha-tpuv6e",
};

export function parseTpuType(s: string): TpuType | undefined {
  const m = /^(v2|v3|v4|v5p|v5litepod|v6e)-(\d+)$/.exec(s.trim());
  if (!m) return undefined;
  const generation = m[1] as TpuType["generation"];
  const size = Number(m[2]);
  if (size < 1) return undefined;
  const perChipHosts = generation === "v5litepod" || generation === "v6e";
  const hosts = perChipHosts ? (size <= 8 ? 1 : Math.ceil(size / 4)) : Math.max(1, Math.ceil(size / 8));
  return { acceleratorType: s.trim(), generation, size, hosts, runtimeVersion: RUNTIME[generation] };
}
