import type { UserConfig } from "./user-config-schema.js";

type Doc = Record<string, unknown>;
const obj = (v: unknown): Doc => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Doc) : {});

/**
 * Fill what a raw task document leaves out with the user config's defaults (flags and the task
 * win). A region belongs to a provider: it is filled only when the task runs on the config's provider.
 */
export function applyUserDefaults(raw: Doc, config: UserConfig): Doc {
  const doc: Doc = { ...raw };
  const r = config.resources;
  if (r) {
    const res = { ...obj(doc.resources) };
    const sameProvider = res.provider === undefined || res.provider === r.provider;
    if (res.provider === undefined && r.provider !== undefined) res.provider = r.provider;
    if (res.region === undefined && r.region !== undefined && sameProvider && r.provider !== undefined) res.region = r.region;
    if (res.region === undefined && r.region !== undefined && r.provider === undefined && res.provider !== "local")
      res.region = r.region;
    if (res.spot === undefined && r.spot !== undefined) res.spot = r.spot;
    if (res.max_price === undefined && r.max_price !== undefined) res.max_price = r.max_price;
    doc.resources = res;
  }
  if (config.checkpoint?.store !== undefined) {
    const cp = { ...obj(doc.checkpoint) };
    if (cp.store === undefined) cp.store = config.checkpoint.store;
    doc.checkpoint = cp;
  }
  return doc;
}
