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

/**
 * The sizes Cloud TPU accepts as an accelerator type, per generation (cloud.google.com/tpu/docs/v2,
 * v3, v4, v5e, v5p, v6e): the listed slices of v2, v3, v5e and v6e; v4 and v5p slices are whole
 * hosts (8 TensorCores each) up to the pod (4096 and 6144 chips).
 */
const SIZES: Record<TpuType["generation"], (n: number) => boolean> = {
  v2: (n) => [8, 32, 128, 256, 512].includes(n),
  v3: (n) => [8, 32, 64, 128, 256, 512, 1024, 2048].includes(n),
  v4: (n) => n % 8 === 0 && n >= 8 && n <= 8192,
  v5p: (n) => n % 8 === 0 && n >= 8 && n <= 12288,
  v5litepod: (n) => [1, 4, 8, 16, 32, 64, 128, 256].includes(n),
  v6e: (n) => [1, 4, 8, 16, 32, 64, 128, 256].includes(n),
};

/** What `resources.tpu` may be, for an error message. */
export const TPU_TYPES_HELP =
  "v2-8|32|128|256|512, v3-8|32|…|2048, v4-N or v5p-N (N a multiple of 8), v5litepod-1|4|8|16|…|256, v6e-1|4|8|16|…|256";

export function parseTpuType(s: string): TpuType | undefined {
  const m = /^(v2|v3|v4|v5p|v5litepod|v6e)-(\d+)$/.exec(s.trim());
  if (!m) return undefined;
  const generation = m[1] as TpuType["generation"];
  const size = Number(m[2]);
  if (!SIZES[generation](size)) return undefined;
  const perChipHosts = generation === "v5litepod" || generation === "v6e";
  const hosts = perChipHosts ? (size <= 8 ? 1 : Math.ceil(size / 4)) : Math.max(1, Math.ceil(size / 8));
  return { acceleratorType: s.trim(), generation, size, hosts, runtimeVersion: RUNTIME[generation] };
}
