import type { VastInstance } from "./wire.js";

/**
 * Vast instances carry one free-text `label` and an environment, no tags. The label holds the
 * launch's idempotency token (so a restarted controller finds what it launched); the tags ride in
 * the environment as JSON, which the API returns in `extra_env`.
 */
export const TAGS_ENV = "SPOTRUN_TAGS";
/** What spotrun needs to remember about a launch that Vast does not keep (the on-demand price). */
export const META_ENV = "SPOTRUN_VAST_META";

export interface LaunchMeta {
  onDemandPricePerHour?: number;
  spot?: boolean;
}

const envOf = (inst: VastInstance, name: string): string | undefined => {
  const pairs = inst.extra_env;
  if (Array.isArray(pairs)) for (const p of pairs) if (Array.isArray(p) && p[0] === name) return String(p[1]);
  return undefined;
};

const parseRecord = (s: string | undefined): Record<string, unknown> => {
  if (!s) return {};
  try {
    const v = JSON.parse(s);
    return typeof v === "object" && v !== null && !Array.isArray(v) ? v : {};
  } catch {
    return {};
  }
};

export function encodeTagEnv(tags: Record<string, string>, meta: LaunchMeta): Record<string, string> {
  return { [TAGS_ENV]: JSON.stringify(tags), [META_ENV]: JSON.stringify(meta) };
}

export function tagsOf(inst: VastInstance): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(parseRecord(envOf(inst, TAGS_ENV)))) if (typeof v === "string") out[k] = v;
  return out;
}

export function metaOf(inst: VastInstance): LaunchMeta {
  const m = parseRecord(envOf(inst, META_ENV));
  const meta: LaunchMeta = {};
  if (typeof m.onDemandPricePerHour === "number") meta.onDemandPricePerHour = m.onDemandPricePerHour;
  if (typeof m.spot === "boolean") meta.spot = m.spot;
  return meta;
}

export const hasTags = (inst: VastInstance, want: Record<string, string>): boolean => {
  const have = tagsOf(inst);
  return Object.entries(want).every(([k, v]) => have[k] === v);
};
