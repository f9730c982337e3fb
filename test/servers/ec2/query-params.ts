/**
 * The EC2 Query protocol flattens a request into form fields: `TagSpecification.1.Tag.2.Key=…`.
 * These helpers read such a flat map back as scalars, lists and nested members.
 */
export type QueryParams = Readonly<Record<string, string>>;

export function parseQueryBody(body: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(body)) out[k] = v;
  return out;
}

/** The members of `prefix` as their own flat maps: `Overrides.1.X` → [{X}], ordered by index. */
export function members(p: QueryParams, prefix: string): Record<string, string>[] {
  const byIndex = new Map<number, Record<string, string>>();
  const head = `${prefix}.`;
  for (const [k, v] of Object.entries(p)) {
    if (!k.startsWith(head)) continue;
    const rest = k.slice(head.length);
    const dot = rest.indexOf(".");
    if (dot < 0) continue;
    const i = Number(rest.slice(0, dot));
    if (!Number.isInteger(i)) continue;
    let m = byIndex.get(i);
    if (!m) byIndex.set(i, (m = {}));
    m[rest.slice(dot + 1)] = v;
  }
  return [...byIndex.entries()].sort((a, b) => a[0] - b[0]).map(([, m]) => m);
}

/** A list of scalars: `InstanceId.1=a&InstanceId.2=b` → [a, b]. */
export function scalars(p: QueryParams, prefix: string): string[] {
  const re = new RegExp(`^${prefix.replace(/\./g, "\\.")}\\.(\\d+)$`);
  return Object.entries(p)
    .map(([k, v]) => [re.exec(k)?.[1], v] as const)
    .filter((e): e is readonly [string, string] => e[0] !== undefined)
    .sort((a, b) => Number(a[0]) - Number(b[0]))
    .map(([, v]) => v);
}

/** The fields under one nested structure: `InstanceMarketOptions.SpotOptions.MaxPrice` → {MaxPrice} for that prefix. */
export function sub(p: QueryParams, prefix: string): Record<string, string> {
  const head = `${prefix}.`;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(p)) if (k.startsWith(head)) out[k.slice(head.length)] = v;
  return out;
}

/** `TagSpecification.N.{ResourceType,Tag.M.{Key,Value}}` → tags per resource type. */
export function tagSpecifications(p: QueryParams, prefix = "TagSpecification"): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  for (const spec of members(p, prefix)) {
    const type = spec.ResourceType ?? "";
    const tags = out.get(type) ?? {};
    for (const t of members(spec, "Tag")) if (t.Key !== undefined) tags[t.Key] = t.Value ?? "";
    out.set(type, tags);
  }
  return out;
}
