/** Sizes as users write them: `10GB`, `512MB`, `1.5TiB`, `20G`, or a bare number of GB. Binary units throughout. */
const UNIT: Record<string, number> = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

export function parseSize(input: string | number): number | undefined {
  if (typeof input === "number") return Number.isFinite(input) && input > 0 ? Math.round(input * UNIT.g!) : undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([bkmgt]?)(?:i?b)?\s*$/i.exec(input);
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = (m[2] || "g").toLowerCase();
  const bytes = Math.round(n * (UNIT[unit] as number));
  return bytes > 0 ? bytes : undefined;
}

export function formatSize(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 10 || i === 0 ? Math.round(v) : Number(v.toFixed(1))} ${units[i]}`;
}
