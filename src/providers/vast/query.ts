import { usageError } from "../../base/errors.js";
import type { FieldFilter, FilterOp, Filters, FilterValue, OfferType, SearchBody } from "./wire.js";

/**
 * The offer query language Vast users already know (`vastai search offers 'reliability > 0.95
 * num_gpus=1 gpu_ram >= 24 dph < 0.50'`), parsed into the filter JSON the CLI posts to /bundles/.
 * It follows the CLI's tokenizer, operators, aliases, unit scaling, wildcards and default filters,
 * but where the CLI only warns (an unknown field) or crashes (a bad number) this refuses the query
 * with a usage error that names the token and lists what is allowed. Values go out typed — numbers
 * as JSON numbers, `true`/`false` as booleans — where the CLI sends most numbers as strings; the
 * API compares both the same way.
 */

type FieldKind = "number" | "bool" | "string" | "version";

/** The CLI's `offers_fields`, with the type each one holds. */
const FIELDS: Record<string, FieldKind> = {
  bw_nvlink: "number",
  cluster_id: "number",
  compute_cap: "number",
  cpu_arch: "string",
  cpu_cores: "number",
  cpu_cores_effective: "number",
  cpu_ghz: "number",
  cpu_ram: "number",
  cuda_max_good: "number",
  datacenter: "bool",
  direct_port_count: "number",
  disk_bw: "number",
  disk_space: "number",
  dlperf: "number",
  dlperf_per_dphtotal: "number",
  dph_total: "number",
  driver_version: "version",
  duration: "number",
  external: "bool",
  flops_per_dphtotal: "number",
  geolocation: "string",
  gpu_arch: "string",
  gpu_display_active: "bool",
  gpu_frac: "number",
  gpu_max_power: "number",
  gpu_max_temp: "number",
  gpu_mem_bw: "number",
  gpu_name: "string",
  gpu_ram: "number",
  gpu_total_ram: "number",
  has_avx: "bool",
  host_id: "number",
  id: "number",
  inet_down: "number",
  inet_down_cost: "number",
  inet_up: "number",
  inet_up_cost: "number",
  machine_id: "number",
  min_bid: "number",
  mobo_name: "string",
  num_gpus: "number",
  pci_gen: "number",
  pcie_bw: "number",
  reliability: "number",
  rentable: "bool",
  rented: "bool",
  static_ip: "bool",
  storage_cost: "number",
  total_flops: "number",
  ubuntu_version: "string",
  verification: "string",
  verified: "bool",
  vms_enabled: "bool",
};

/** The CLI's `offers_alias`. */
export const FIELD_ALIASES: Record<string, string> = {
  cuda_vers: "cuda_max_good",
  display_active: "gpu_display_active",
  dlperf_usd: "dlperf_per_dphtotal",
  dph: "dph_total",
  flops_usd: "flops_per_dphtotal",
};

/** The CLI's `offers_mult`: users write GB and days, the API stores MB and seconds. */
export const FIELD_MULTIPLIERS: Record<string, number> = {
  cpu_ram: 1000,
  gpu_ram: 1000,
  gpu_total_ram: 1000,
  duration: 86_400,
};

/** The CLI's `op_names`. */
const OPERATORS: Record<string, FilterOp> = {
  "=": "eq",
  "==": "eq",
  eq: "eq",
  "!=": "neq",
  neq: "neq",
  noteq: "neq",
  "not eq": "neq",
  ">": "gt",
  gt: "gt",
  ">=": "gte",
  gte: "gte",
  "<": "lt",
  lt: "lt",
  "<=": "lte",
  lte: "lte",
  in: "in",
  notin: "notin",
  "not in": "notin",
  nin: "notin",
};
const OPERATOR_LIST = "= == != > >= < <= in notin (or gt gte lt lte eq neq)";

/** Filters the CLI adds unless `-n/--no-default`: verified, datacenter-or-not, rentable, not rented. */
export const DEFAULT_FILTERS: Filters = {
  verified: { eq: true },
  external: { eq: false },
  rentable: { eq: true },
  rented: { eq: false },
};

/** The CLI's tokenizer: field, operator, value (a word, a "quoted string" or a [list]). */
const TOKEN = /([a-zA-Z0-9_]+)( *[=><!]+| +(?:[lg]te?|nin|neq|eq|not ?eq|not ?in|in) )?( *)(\[[^\]]+\]|"[^"]+"|[^ ]+)?( *)/g;

export const knownFields = (): string[] => Object.keys(FIELDS).sort();
const fieldList = () => `${knownFields().join(", ")}; aliases: ${Object.keys(FIELD_ALIASES).join(", ")}`;

const queryError = (what: string, fix: string) => usageError(`vast offer query: ${what}`, fix, "vast_query");

export const resolveField = (name: string): string => FIELD_ALIASES[name] ?? name;

/** `535.86.05` → 535086005, as the CLI compares driver versions numerically. */
export function numericVersion(v: string): number | undefined {
  const parts = v.split(".");
  if (parts.length < 2 || parts.length > 3 || !parts.every((p) => /^\d{0,3}$/.test(p))) return undefined;
  const [major = "", minor = "", patch = ""] = parts;
  return Number(`${major.padStart(3, "0")}${minor.padStart(3, "0")}${patch.padStart(3, "0")}`);
}

function typedValue(field: string, kind: FieldKind, raw: string, token: string): string | number | boolean | null {
  if (raw === "None" || raw === "null") return null;
  switch (kind) {
    case "bool":
      if (raw === "true" || raw === "True") return true;
      if (raw === "false" || raw === "False") return false;
      throw queryError(`${field} takes true or false, got "${raw}" in "${token}"`, `write ${field}=true or ${field}=false`);
    case "number": {
      const n = Number(raw);
      if (raw.trim() === "" || !Number.isFinite(n))
        throw queryError(`${field} takes a number, got "${raw}" in "${token}"`, `write e.g. ${field}>=1`);
      return n * (FIELD_MULTIPLIERS[field] ?? 1);
    }
    case "version": {
      if (!raw.includes(".")) return raw;
      const n = numericVersion(raw);
      if (n === undefined)
        throw queryError(
          `${field} takes a version such as 535.86.05, got "${raw}" in "${token}"`,
          `write e.g. ${field}>=535.86.05`,
        );
      return n;
    }
    case "string":
      // The CLI's convention: underscores stand for spaces (gpu_name=RTX_4090), quotes are dropped.
      return raw.replace(/_/g, " ").replace(/^"+|"+$/g, "");
  }
}

const ORDERED_OPS: FilterOp[] = ["gt", "gte", "lt", "lte"];

/** Parse a query into filters, merged over `base` (the default filters unless told otherwise). */
export function parseQuery(query: string, base: Filters = DEFAULT_FILTERS): Filters {
  const res: Filters = structuredClone(base);
  const text = query.trim();
  let pos = 0;
  for (const m of text.matchAll(TOKEN)) {
    if (m.index !== pos)
      throw queryError(
        `could not read "${text.slice(pos, m.index)}" at column ${pos + 1}`,
        "write comparisons as field op value, e.g. 'gpu_ram >= 24 dph < 0.5', and quote the whole query in the shell",
      );
    pos = m.index + m[0].length;
    const [, name = "", opRaw = "", , valueRaw = ""] = m;
    const token = `${name}${opRaw}${m[3] ?? ""}${valueRaw}`.trim();
    const field = resolveField(name);
    const kind = FIELDS[field];
    if (!kind) throw queryError(`unknown field "${name}" in "${token}"`, `use one of: ${fieldList()}`);
    const opText = opRaw.trim().replace(/ +/g, " ");
    const op = OPERATORS[opText];
    if (!op)
      throw queryError(
        opText ? `unknown operator "${opText}" in "${token}"` : `no operator in "${token}"`,
        `use one of: ${OPERATOR_LIST}`,
      );
    const value = valueRaw.replace(/^[,[\]]+|[,[\]]+$/g, "");
    if (!value) throw queryError(`no value after "${name} ${opText}"`, `write e.g. ${name}${opText}1`);
    if (value === "any" || value === "?" || value === "*") {
      if (op !== "eq")
        throw queryError(`the wildcard "${value}" only works with = in "${token}"`, `write ${name}=any to drop the filter`);
      delete res[field];
      continue;
    }
    if ((kind === "bool" || kind === "string") && ORDERED_OPS.includes(op))
      throw queryError(`${field} cannot be compared with "${opText}" in "${token}"`, "use one of: = != in notin");
    let v: FilterValue;
    if (op === "in" || op === "notin") {
      const items = value
        .split(",")
        .map((x) => x.trim())
        .filter((x) => x.length > 0);
      if (items.length === 0) throw queryError(`empty list in "${token}"`, `write e.g. ${name} in [a,b]`);
      v = items.map((x) => {
        const t = typedValue(field, kind, x, token);
        if (typeof t === "boolean" || t === null) return String(t);
        return t;
      });
    } else {
      v = typedValue(field, kind, value, token);
    }
    const clause: FieldFilter = { ...(res[field] ?? {}) };
    clause[op] = v;
    res[field] = clause;
  }
  if (pos !== text.length)
    throw queryError(
      `could not read "${text.slice(pos)}" at column ${pos + 1}`,
      "write comparisons as field op value, e.g. 'gpu_ram >= 24 dph < 0.5', and quote the whole query in the shell",
    );
  return res;
}

/**
 * `--order dph,-reliability`: a comma list; a `-` before or after a field sorts descending, `+`
 * ascending (the CLI strips both ends). Default `score-`, the CLI's default.
 */
export function parseOrder(order = "score-"): [string, "asc" | "desc"][] {
  const out: [string, "asc" | "desc"][] = [];
  for (const part of order.split(",")) {
    const name = part.trim();
    if (!name) continue;
    let dir: "asc" | "desc" = "asc";
    let field = name;
    if (field.replace(/^-+|-+$/g, "") !== field) {
      dir = "desc";
      field = field.replace(/^-+|-+$/g, "");
    }
    if (field.replace(/^\++|\++$/g, "") !== field) {
      dir = "asc";
      field = field.replace(/^\++|\++$/g, "");
    }
    field = resolveField(field);
    if (field !== "score" && !FIELDS[field])
      throw queryError(`unknown field "${name}" in --order`, `use score or one of: ${fieldList()}; prefix - for descending`);
    out.push([field, dir]);
  }
  return out;
}

export interface SearchOptions {
  order?: string;
  limit?: number;
  /** `interruptible` is the CLI's older name for `bid`. */
  type?: OfferType | "interruptible";
  /** GB of disk to price offers with (the CLI's `--storage`, default 5). */
  storage?: number;
  /** The CLI's `-n`: leave out the default filters. */
  noDefault?: boolean;
}

/** The exact body `vastai search offers QUERY --order … --limit … --type …` posts to /bundles/. */
export function buildSearchBody(query: string | Filters, opts: SearchOptions = {}): SearchBody {
  const base = opts.noDefault ? {} : DEFAULT_FILTERS;
  const filters = typeof query === "string" ? parseQuery(query, base) : { ...structuredClone(base), ...query };
  if (opts.limit !== undefined && (!Number.isInteger(opts.limit) || opts.limit < 1))
    throw queryError(`--limit must be a whole number of at least 1, got ${opts.limit}`, "write e.g. --limit 10");
  const type = opts.type === "interruptible" ? "bid" : (opts.type ?? "on-demand");
  if (type !== "on-demand" && type !== "bid" && type !== "reserved")
    throw queryError(`unknown offer type "${String(opts.type)}"`, "use on-demand, bid (interruptible) or reserved");
  const body: SearchBody = { ...filters, order: parseOrder(opts.order), type, allocated_storage: opts.storage ?? 5 };
  if (opts.limit !== undefined) body.limit = opts.limit;
  return body;
}
