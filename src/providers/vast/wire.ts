/**
 * The Vast.ai REST API's JSON shapes, as the official CLI (vast-ai/vast-python `vast.py`) sends and
 * reads them. Only the fields spotrun uses are typed; the rest pass through untouched.
 */

/** One operator clause of a search filter: `{"gte": 24000}`, `{"in": ["RTX 4090", "RTX 3090"]}`. */
export type FilterOp = "eq" | "neq" | "gt" | "gte" | "lt" | "lte" | "in" | "notin";
export type FilterValue = string | number | boolean | null | (string | number)[];
export type FieldFilter = Partial<Record<FilterOp, FilterValue>>;
export type Filters = Record<string, FieldFilter>;

export type OfferType = "on-demand" | "bid" | "reserved";

/** Body of `POST /bundles/`: the filters at top level beside order/type/limit/allocated_storage. */
export interface SearchControls {
  order?: [string, "asc" | "desc"][];
  type?: OfferType;
  limit?: number;
  allocated_storage?: number;
}
export type SearchBody = SearchControls & { [field: string]: FieldFilter | SearchControls[keyof SearchControls] };
/** The reserved top-level keys of a search body that are not field filters. */
export const SEARCH_CONTROL_KEYS = ["order", "type", "limit", "allocated_storage", "disable_bundling"] as const;

export interface VastOffer {
  id: number;
  ask_contract_id?: number;
  machine_id?: number;
  host_id?: number;
  gpu_name: string;
  num_gpus: number;
  /** Per-GPU RAM in MB. */
  gpu_ram: number;
  gpu_total_ram?: number;
  /** System RAM in MB. */
  cpu_ram?: number;
  cpu_cores_effective?: number;
  disk_space?: number;
  dph_total: number;
  min_bid?: number;
  reliability?: number;
  reliability2?: number;
  cuda_max_good?: number;
  inet_up?: number;
  inet_down?: number;
  geolocation?: string | null;
  verification?: string;
  verified?: boolean;
  rentable?: boolean;
  rented?: boolean;
  external?: boolean;
  dlperf?: number;
  score?: number;
  [field: string]: unknown;
}

export interface SearchResponse {
  offers: VastOffer[];
}

/** Body of `PUT /asks/{offer_id}/` (`vastai create instance`). A non-null `price` makes it interruptible. */
export interface CreateInstanceBody {
  client_id: "me";
  image: string;
  env: Record<string, string>;
  price: number | null;
  disk: number;
  label?: string | null;
  onstart?: string | null;
  runtype: "ssh_proxy" | "ssh_direc ssh_proxy" | "jupyter_proxy ssh_proxy" | "jupyter_direc ssh_direc ssh_proxy" | "args";
  image_login?: string | null;
  python_utf8?: boolean;
  lang_utf8?: boolean;
  use_jupyter_lab?: boolean;
  jupyter_dir?: string | null;
  force?: boolean;
  cancel_unavail?: boolean;
  args?: string[];
}

export interface CreateInstanceResponse {
  success: boolean;
  new_contract: number;
}

/** Docker-style port map: `{"22/tcp": [{"HostIp": "0.0.0.0", "HostPort": "41022"}]}`. */
export type PortMap = Record<string, { HostIp?: string; HostPort: string }[]>;

export interface VastInstance {
  id: number;
  machine_id?: number;
  /** What the machine reports: null before the first report, then loading, running, exited, …. */
  actual_status: string | null;
  /** What the renter asked for: running or stopped. */
  intended_status: string | null;
  cur_state?: string | null;
  next_state?: string | null;
  status_msg?: string | null;
  ssh_host?: string | null;
  ssh_port?: number | null;
  public_ipaddr?: string | null;
  ports?: PortMap | null;
  image_runtype?: string | null;
  dph_total?: number;
  is_bid?: boolean;
  min_bid?: number;
  /** Seconds since the epoch. */
  start_date?: number | null;
  label?: string | null;
  /** `[[name, value], …]` as the API returns the instance environment. */
  extra_env?: [string, string][] | null;
  num_gpus?: number;
  gpu_name?: string;
  disk_space?: number;
  geolocation?: string | null;
  [field: string]: unknown;
}

export interface ShowInstancesResponse {
  instances: VastInstance[];
}
export interface ShowInstanceResponse {
  instances: VastInstance | null;
}

/** Body of `PUT /instances/request_logs/{id}/`. */
export interface RequestLogsBody {
  tail?: string;
  filter?: string;
  daemon_logs?: "true";
}
export interface RequestLogsResponse {
  success?: boolean;
  result_url?: string;
  msg?: string;
}

/** What a failed call returns: `{"success": false, "error": "invalid_args", "msg": "…"}`. */
export interface VastErrorBody {
  success?: boolean;
  error?: string;
  msg?: string;
}
