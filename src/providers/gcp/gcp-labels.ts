/**
 * GCP labels allow only lowercase letters, digits, `_` and `-` (keys start with a letter, both at
 * most 63 characters), so spotrun's tags (`spotrun:job`) are mapped onto that alphabet
 * (`spotrun-job`). The mapping is deterministic, so `list(tags)` filters with the same labels it
 * launched with; the exact tags also travel in metadata (see TAGS_METADATA_KEY) for describe.
 */
export const TAGS_METADATA_KEY = "spotrun-tags";

const clean = (s: string): string =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9_-]/g, "-")
    .slice(0, 63);

export function labelKey(tagKey: string): string {
  const k = clean(tagKey);
  return /^[a-z]/.test(k) ? k : `t${k}`.slice(0, 63);
}

export const labelValue = (v: string): string => clean(v);

export function toLabels(tags: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(tags)) out[labelKey(k)] = labelValue(v);
  return out;
}

/** Labels back to spotrun tags where the key is one of ours (`spotrun-x` → `spotrun:x`); others unchanged. */
export function fromLabels(labels: Record<string, string> | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels ?? {})) out[k.startsWith("spotrun-") ? `spotrun:${k.slice(8)}` : k] = v;
  return out;
}

/** A Compute list filter matching every label: `labels.k = "v" AND …`. */
export function labelFilter(tags: Record<string, string>): string {
  return Object.entries(toLabels(tags))
    .map(([k, v]) => `labels.${k} = "${v}"`)
    .join(" AND ");
}
