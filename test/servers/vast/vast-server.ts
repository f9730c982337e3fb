import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { CreateInstanceBody, FieldFilter, VastInstance, VastOffer } from "../../../src/providers/vast/wire.js";

/**
 * An in-repo Vast.ai REST server on 127.0.0.1 that speaks the API the official `vastai` CLI uses
 * (paths under /api/v0, Bearer or `?api_key=` auth, the /bundles/ filter JSON, `new_contract`,
 * `actual_status`/`intended_status`), so the real client can be tested end to end. Tests steer it:
 * 429s on demand, instances that never start, outbidding and rebidding, disk-full messages, log
 * uploads that lag; and every request is recorded for assertions.
 */

export interface RecordedRequest {
  method: string;
  /** Path without the query string, e.g. `/api/v0/asks/101/`. */
  path: string;
  query: Record<string, string>;
  auth: "bearer" | "query" | "none";
  authorization: string | undefined;
  body: unknown;
  status: number;
}

interface ServerInstance {
  inst: VastInstance;
  offerId: number;
  /** Polls still to answer "loading" before "running". */
  loadingPolls: number;
  neverStart: boolean;
  /** Runs and is billed, but nothing answers at its SSH address (a broken host). */
  noSsh: boolean;
  /** A higher bid holding the machine: the instance stays exited until it bids above this. */
  competingBid: number | undefined;
  logText: string;
  /** Public keys attached with POST /instances/{id}/ssh/ (what the machine's root would authorize). */
  sshKeys: string[];
}

export interface VastServerOptions {
  apiKey: string;
  offers: VastOffer[];
  /** Polls an instance answers "loading" before it runs (default 1). */
  loadingPolls?: number;
  /** Where instances' SSH points (default 127.0.0.1, ports from 40000 + id). */
  ssh?: (id: number) => { host: string; port: number };
  now?: () => number;
  /** Called when an instance is destroyed, e.g. to stop the SSH host that played it. */
  onDestroy?: (id: number) => void;
  /** Called when a key is attached, before the reply: the machine that plays the instance authorizes it. */
  onAttachSsh?: (id: number, key: string) => Promise<void>;
}

const CONTROL_KEYS = new Set(["order", "type", "limit", "allocated_storage", "disable_bundling"]);
const OPS = new Set(["eq", "neq", "gt", "gte", "lt", "lte", "in", "notin"]);

export class VastServer {
  readonly requests: RecordedRequest[] = [];
  readonly offers: VastOffer[];
  readonly instances = new Map<number, ServerInstance>();
  private server: Server | undefined;
  private origin = "";
  private nextId = 7_835_610;
  private pending429 = 0;
  private pendingStalls = 0;
  private neverStartOffers = new Set<number>();
  /** Offers whose next instances never answer SSH, and how many more of them. */
  private noSshOffers = new Map<number, number>();
  private logsNotReady = 0;
  private readonly logUploads = new Map<string, { id: number; tail: number | undefined; misses: number }>();
  /** When set, error messages echo the Authorization header the way careless servers do, to prove the client redacts it. */
  echoAuthInErrors = false;

  constructor(private readonly opts: VastServerOptions) {
    this.offers = structuredClone(opts.offers);
  }

  /** The API base the client takes (`…/api/v0`). */
  get url(): string {
    return `${this.origin}/api/v0`;
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((e) => this.send(res, 500, { success: false, error: "server_error", msg: String(e) }));
    });
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
    this.origin = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    const s = this.server;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
    this.server = undefined;
  }

  // ---- steering -------------------------------------------------------------------------------

  /** The next `n` API calls get no answer at all: the connection stays open and silent. */
  stall(n: number): void {
    this.pendingStalls = n;
  }
  /** The next `n` API calls get 429 Too Many Requests. */
  throttle(n: number): void {
    this.pending429 = n;
  }
  /** Instances created on this offer stay "loading" forever. */
  neverStart(offerId: number): void {
    this.neverStartOffers.add(offerId);
  }
  /**
   * The next `times` instances created on this offer run (and bill) but never answer SSH: their
   * address is a port on 127.0.0.1 that refuses, and no machine is told about attached keys.
   */
  noSsh(offerId: number, times = 1): void {
    this.noSshOffers.set(offerId, times);
  }
  /** Another renter outbids the instance: it is stopped (actual exited) while the renter still intends running. */
  outbid(id: number, competingBid: number): void {
    const s = this.must(id);
    s.competingBid = competingBid;
    s.inst.actual_status = "exited";
    s.inst.cur_state = "stopped";
    s.inst.status_msg = "Instance stopped: outbid by a higher priority contract";
  }
  /** The machine's daemon reports a message (and optionally a state), e.g. a Docker disk-full error. */
  report(id: number, statusMsg: string, actual?: string): void {
    const s = this.must(id);
    s.inst.status_msg = statusMsg;
    if (actual !== undefined) s.inst.actual_status = actual;
  }
  setLogs(id: number, text: string): void {
    this.must(id).logText = text;
  }
  /** Log uploads answer 404 this many times before the object appears. */
  delayLogs(misses: number): void {
    this.logsNotReady = misses;
  }
  requestsTo(method: string, pathPrefix: string): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method && r.path.startsWith(`/api/v0${pathPrefix}`));
  }

  private must(id: number): ServerInstance {
    const s = this.instances.get(id);
    if (!s) throw new Error(`test server: no instance ${id}`);
    return s;
  }

  // ---- HTTP -----------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const u = new URL(req.url ?? "/", this.origin);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    let body: unknown;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      return this.reply(req, u, res, undefined, 400, { success: false, error: "invalid_json", msg: "body is not JSON" });
    }
    // Log objects live outside the API, like the presigned S3 URLs the real API hands out.
    if (req.method === "GET" && u.pathname.startsWith("/instance_logs/")) return this.serveLog(req, u, res, body);

    const authz = req.headers.authorization;
    const bearerOk = authz === `Bearer ${this.opts.apiKey}`;
    const queryOk = u.searchParams.get("api_key") === this.opts.apiKey;
    const auth: RecordedRequest["auth"] = bearerOk ? "bearer" : queryOk ? "query" : "none";
    if (this.pendingStalls > 0) {
      this.pendingStalls--;
      this.requests.push({
        method: req.method ?? "",
        path: u.pathname,
        query: Object.fromEntries(u.searchParams),
        auth,
        authorization: authz,
        body,
        status: 0,
      });
      return;
    }
    if (this.pending429 > 0) {
      this.pending429--;
      return this.reply(req, u, res, body, 429, { success: false, error: "rate_limited", msg: "Too many requests" }, auth);
    }
    if (auth === "none") {
      const msg = this.echoAuthInErrors ? `invalid key in header ${authz ?? "(none)"}` : "Invalid user key";
      return this.reply(req, u, res, body, 401, { success: false, error: "auth_error", msg }, auth);
    }
    const path = u.pathname;
    const m = (re: RegExp) => re.exec(path);
    let out: [number, unknown];
    let hit: RegExpExecArray | null;
    if (req.method === "POST" && path === "/api/v0/bundles/") out = this.search(body);
    else if (req.method === "PUT" && (hit = m(/^\/api\/v0\/asks\/(\d+)\/$/))) out = this.create(Number(hit[1]), body);
    else if (req.method === "GET" && /^\/api\/v0\/instances\/?$/.test(path)) out = this.list(u);
    else if (req.method === "GET" && (hit = m(/^\/api\/v0\/instances\/(\d+)\/$/))) out = this.show(Number(hit[1]), u);
    else if (req.method === "PUT" && (hit = m(/^\/api\/v0\/instances\/request_logs\/(\d+)\/$/)))
      out = this.requestLogs(Number(hit[1]), body);
    else if (req.method === "PUT" && (hit = m(/^\/api\/v0\/instances\/bid_price\/(\d+)\/$/)))
      out = this.changeBid(Number(hit[1]), body);
    else if (req.method === "PUT" && (hit = m(/^\/api\/v0\/instances\/reboot\/(\d+)\/$/))) out = this.reboot(Number(hit[1]));
    else if (req.method === "PUT" && (hit = m(/^\/api\/v0\/instances\/(\d+)\/$/))) out = this.update(Number(hit[1]), body);
    else if (req.method === "DELETE" && (hit = m(/^\/api\/v0\/instances\/(\d+)\/$/))) out = this.destroy(Number(hit[1]));
    else if (req.method === "POST" && (hit = m(/^\/api\/v0\/instances\/(\d+)\/ssh\/$/))) {
      out = this.attachSsh(Number(hit[1]), body);
      if (out[0] === 200 && !this.instances.get(Number(hit[1]))?.noSsh)
        await this.opts.onAttachSsh?.(Number(hit[1]), String((body as { ssh_key: string }).ssh_key).trim());
    } else if (req.method === "GET" && path === "/api/v0/users/current/")
      out = [200, { id: 1, username: "spotrun-test", balance: 25.0 }];
    else out = [404, { success: false, error: "not_found", msg: `no route ${req.method} ${path}` }];
    if (out[0] >= 400 && this.echoAuthInErrors && isObj(out[1])) out[1].msg = `${String(out[1].msg)} (request header: ${authz})`;
    return this.reply(req, u, res, body, out[0], out[1], auth);
  }

  private reply(
    req: IncomingMessage,
    u: URL,
    res: ServerResponse,
    body: unknown,
    status: number,
    payload: unknown,
    auth: RecordedRequest["auth"] = "none",
  ): void {
    const query = Object.fromEntries(u.searchParams.entries());
    this.requests.push({
      method: req.method ?? "",
      path: u.pathname,
      query,
      auth,
      authorization: req.headers.authorization,
      body,
      status,
    });
    this.send(res, status, payload);
  }

  private send(res: ServerResponse, status: number, payload: unknown): void {
    const text = typeof payload === "string" ? payload : JSON.stringify(payload);
    res.writeHead(status, { "Content-Type": typeof payload === "string" ? "text/plain" : "application/json" });
    res.end(text);
  }

  // ---- offers ---------------------------------------------------------------------------------

  private search(body: unknown): [number, unknown] {
    if (!isObj(body)) return [400, { success: false, error: "invalid_args", msg: "search body must be a JSON object" }];
    const known = new Set(this.offers.flatMap((o) => Object.keys(o)));
    const filters: [string, FieldFilter][] = [];
    for (const [k, v] of Object.entries(body)) {
      if (CONTROL_KEYS.has(k)) continue;
      if (!known.has(k)) return [400, { success: false, error: "invalid_args", msg: `unknown search field ${k}` }];
      if (!isObj(v)) return [400, { success: false, error: "invalid_args", msg: `filter for ${k} must be an object` }];
      for (const op of Object.keys(v))
        if (!OPS.has(op)) return [400, { success: false, error: "invalid_args", msg: `unknown operator ${op} on ${k}` }];
      filters.push([k, v as FieldFilter]);
    }
    const type = body.type ?? "on-demand";
    if (type !== "on-demand" && type !== "bid" && type !== "reserved")
      return [400, { success: false, error: "invalid_args", msg: `unknown type ${String(type)}` }];
    let rows = this.offers.filter((o) => filters.every(([k, f]) => matches(o[k], f)));
    if (type === "bid") rows = rows.filter((o) => typeof o.min_bid === "number");
    const order: [string, string][] =
      Array.isArray(body.order) && body.order.length > 0 ? (body.order as [string, string][]) : [["score", "desc"]];
    rows = [...rows].sort((a, b) => {
      for (const [field, dir] of order) {
        const c = compare(a[field], b[field]);
        if (c !== 0) return dir === "desc" ? -c : c;
      }
      return 0;
    });
    const limit = typeof body.limit === "number" ? body.limit : 64;
    return [200, { offers: rows.slice(0, limit) }];
  }

  // ---- instances ------------------------------------------------------------------------------

  private create(offerId: number, body: unknown): [number, unknown] {
    if (!isObj(body)) return [400, { success: false, error: "invalid_args", msg: "body must be a JSON object" }];
    const b = body as unknown as CreateInstanceBody;
    if (b.client_id !== "me") return [400, { success: false, error: "invalid_args", msg: "client_id must be me" }];
    if (typeof b.image !== "string" || !b.image)
      return [400, { success: false, error: "invalid_args", msg: "image is required" }];
    if (typeof b.disk !== "number") return [400, { success: false, error: "invalid_args", msg: "disk must be a number" }];
    if (b.price !== null && typeof b.price !== "number")
      return [400, { success: false, error: "invalid_args", msg: "price must be null or a number" }];
    const offer = this.offers.find((o) => o.id === offerId);
    if (!offer || offer.rentable === false || offer.rented === true)
      return [400, { success: false, error: "no_such_ask", msg: `Instance type ${offerId} is no longer available.` }];
    if (b.price !== null && typeof offer.min_bid !== "number")
      return [400, { success: false, error: "invalid_args", msg: "this offer takes no bids" }];
    const id = this.nextId++;
    const noSsh = (this.noSshOffers.get(offerId) ?? 0) > 0;
    if (noSsh) this.noSshOffers.set(offerId, (this.noSshOffers.get(offerId) ?? 1) - 1);
    // Port 1 on loopback: nothing listens there, a connection is refused at once.
    const ssh = noSsh
      ? { host: "127.0.0.1", port: 1 }
      : (this.opts.ssh?.(id) ?? { host: "127.0.0.1", port: 40_000 + (id % 20_000) });
    const runtype = b.runtype ?? "ssh_proxy";
    const inst: VastInstance = {
      id,
      machine_id: offer.machine_id,
      actual_status: null,
      intended_status: "running",
      cur_state: "stopped",
      next_state: "running",
      status_msg: null,
      ssh_host: ssh.host,
      ssh_port: ssh.port,
      public_ipaddr: ssh.host,
      ports: {},
      image_runtype: runtype,
      image_uuid: b.image,
      dph_total: b.price ?? offer.dph_total,
      is_bid: b.price !== null,
      min_bid: offer.min_bid,
      start_date: (this.opts.now?.() ?? Date.now()) / 1000,
      label: b.label ?? null,
      extra_env: Object.entries(b.env ?? {}).map(([k, v]) => [k, String(v)] as [string, string]),
      num_gpus: offer.num_gpus,
      gpu_name: offer.gpu_name,
      disk_space: b.disk,
      geolocation: offer.geolocation ?? null,
    };
    offer.rented = true;
    this.instances.set(id, {
      inst,
      offerId,
      loadingPolls: this.opts.loadingPolls ?? 1,
      neverStart: this.neverStartOffers.has(offerId),
      noSsh,
      competingBid: b.price !== null && typeof offer.min_bid === "number" && b.price < offer.min_bid ? offer.min_bid : undefined,
      logText: `started ${b.image}\n`,
      sshKeys: [],
    });
    return [200, { success: true, new_contract: id }];
  }

  /** One status report from the machine: created → loading → running, unless held back. */
  private advance(s: ServerInstance): void {
    const i = s.inst;
    if (i.intended_status !== "running") return;
    if (s.competingBid !== undefined) {
      if (i.actual_status === null || i.actual_status === "loading") i.actual_status = "exited";
      return;
    }
    if (i.actual_status === null) {
      i.actual_status = "loading";
      i.status_msg = `Pulling image ${String(i.image_uuid)}`;
      return;
    }
    if (i.actual_status !== "loading" || s.neverStart) return;
    if (s.loadingPolls > 0) {
      s.loadingPolls--;
      return;
    }
    i.actual_status = "running";
    i.cur_state = "running";
    i.status_msg = "success, running";
    if ((i.image_runtype ?? "").includes("ssh_direc") && i.ssh_port)
      i.ports = { "22/tcp": [{ HostIp: "0.0.0.0", HostPort: String(i.ssh_port) }] };
  }

  private list(u: URL): [number, unknown] {
    if (u.searchParams.get("owner") !== "me")
      return [400, { success: false, error: "invalid_args", msg: "owner=me is required" }];
    const out: VastInstance[] = [];
    for (const s of this.instances.values()) {
      this.advance(s);
      out.push(structuredClone(s.inst));
    }
    return [200, { instances: out }];
  }

  private show(id: number, u: URL): [number, unknown] {
    if (u.searchParams.get("owner") !== "me")
      return [400, { success: false, error: "invalid_args", msg: "owner=me is required" }];
    const s = this.instances.get(id);
    if (!s) return [200, { instances: null }];
    this.advance(s);
    return [200, { instances: structuredClone(s.inst) }];
  }

  private update(id: number, body: unknown): [number, unknown] {
    const s = this.instances.get(id);
    if (!s) return [200, { success: false, error: "no_such_instance", msg: `Instance ${id} not found.` }];
    if (!isObj(body)) return [400, { success: false, error: "invalid_args", msg: "body must be a JSON object" }];
    if (typeof body.label === "string") s.inst.label = body.label;
    if (body.state === "stopped") {
      s.inst.intended_status = "stopped";
      s.inst.actual_status = "exited";
      s.inst.cur_state = "stopped";
    } else if (body.state === "running") {
      s.inst.intended_status = "running";
      if (s.inst.actual_status !== "running") s.inst.actual_status = "loading";
      s.loadingPolls = this.opts.loadingPolls ?? 1;
    } else if (body.state !== undefined)
      return [400, { success: false, error: "invalid_args", msg: "state must be running or stopped" }];
    return [200, { success: true }];
  }

  private reboot(id: number): [number, unknown] {
    const s = this.instances.get(id);
    if (!s) return [200, { success: false, error: "no_such_instance", msg: `Instance ${id} not found.` }];
    s.inst.actual_status = "loading";
    s.loadingPolls = this.opts.loadingPolls ?? 1;
    return [200, { success: true }];
  }

  private changeBid(id: number, body: unknown): [number, unknown] {
    const s = this.instances.get(id);
    if (!s) return [200, { success: false, error: "no_such_instance", msg: `Instance ${id} not found.` }];
    if (!isObj(body) || body.client_id !== "me")
      return [400, { success: false, error: "invalid_args", msg: "client_id must be me" }];
    if (!s.inst.is_bid) return [400, { success: false, error: "invalid_args", msg: "not an interruptible instance" }];
    const winning = (s.competingBid ?? s.inst.min_bid ?? 0) + 0.01;
    const price = body.price === null || body.price === undefined ? winning : Number(body.price);
    s.inst.dph_total = price;
    if (s.competingBid !== undefined && price > s.competingBid) {
      s.competingBid = undefined;
      s.inst.actual_status = "loading";
      s.inst.status_msg = "bid won, restarting";
      s.loadingPolls = this.opts.loadingPolls ?? 1;
    }
    return [200, { success: true }];
  }

  /** `vastai attach ssh`: the key must be one OpenSSH public key line. */
  private attachSsh(id: number, body: unknown): [number, unknown] {
    const s = this.instances.get(id);
    if (!s) return [404, { success: false, error: "no_such_instance", msg: `Instance ${id} not found.` }];
    const key = isObj(body) ? body.ssh_key : undefined;
    if (typeof key !== "string" || !/^(ssh-ed25519|ssh-rsa|ecdsa-sha2-\S+) [A-Za-z0-9+/=]+( .*)?$/.test(key.trim()))
      return [400, { success: false, error: "invalid_args", msg: "ssh_key must be an OpenSSH public key" }];
    if (!s.sshKeys.includes(key.trim())) s.sshKeys.push(key.trim());
    return [200, { success: true, msg: "ssh key attached" }];
  }

  private destroy(id: number): [number, unknown] {
    const s = this.instances.get(id);
    if (!s) return [200, { success: false, msg: `Instance ${id} not found.` }];
    this.instances.delete(id);
    this.opts.onDestroy?.(id);
    const offer = this.offers.find((o) => o.id === s.offerId);
    if (offer) offer.rented = false;
    return [200, { success: true }];
  }

  // ---- logs -----------------------------------------------------------------------------------

  private requestLogs(id: number, body: unknown): [number, unknown] {
    if (!this.instances.has(id)) return [200, { success: false, error: "no_such_instance", msg: `Instance ${id} not found.` }];
    const b = isObj(body) ? body : {};
    const tail = b.tail === undefined ? undefined : Number(b.tail);
    const key = randomBytes(8).toString("hex");
    this.logUploads.set(key, { id, tail, misses: this.logsNotReady });
    return [200, { success: true, result_url: `${this.origin}/instance_logs/${key}.log`, msg: "logs will be available shortly" }];
  }

  private serveLog(req: IncomingMessage, u: URL, res: ServerResponse, body: unknown): void {
    const key = /^\/instance_logs\/([0-9a-f]+)\.log$/.exec(u.pathname)?.[1];
    const up = key ? this.logUploads.get(key) : undefined;
    if (!up) {
      this.reply(req, u, res, body, 404, "NoSuchKey");
      return;
    }
    if (up.misses > 0) {
      up.misses--;
      this.reply(req, u, res, body, 404, "NoSuchKey");
      return;
    }
    const lines = (this.instances.get(up.id)?.logText ?? "").split("\n");
    if (lines.at(-1) === "") lines.pop();
    const kept = up.tail === undefined ? lines : lines.slice(-up.tail);
    this.reply(req, u, res, body, 200, `${kept.join("\n")}\n`);
  }
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

const asNumber = (v: unknown): number | undefined => {
  if (typeof v === "number") return v;
  if (typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v))) return Number(v);
  return undefined;
};

/** Equality as the API applies it: numbers and numeric strings compare as numbers, booleans by name. */
function same(a: unknown, b: unknown): boolean {
  if (b === null) return a === null || a === undefined;
  const na = asNumber(a);
  const nb = asNumber(b);
  if (na !== undefined && nb !== undefined) return na === nb;
  return String(a).toLowerCase() === String(b).toLowerCase();
}

function matches(value: unknown, f: FieldFilter): boolean {
  for (const [op, want] of Object.entries(f)) {
    const n = asNumber(value);
    const w = asNumber(want);
    switch (op) {
      case "eq":
        if (!same(value, want)) return false;
        break;
      case "neq":
        if (same(value, want)) return false;
        break;
      case "in":
        if (!Array.isArray(want) || !want.some((x) => same(value, x))) return false;
        break;
      case "notin":
        if (!Array.isArray(want) || want.some((x) => same(value, x))) return false;
        break;
      case "gt":
        if (n === undefined || w === undefined || !(n > w)) return false;
        break;
      case "gte":
        if (n === undefined || w === undefined || !(n >= w)) return false;
        break;
      case "lt":
        if (n === undefined || w === undefined || !(n < w)) return false;
        break;
      case "lte":
        if (n === undefined || w === undefined || !(n <= w)) return false;
        break;
    }
  }
  return true;
}

function compare(a: unknown, b: unknown): number {
  if (a === undefined || a === null) return b === undefined || b === null ? 0 : 1;
  if (b === undefined || b === null) return -1;
  const na = asNumber(a);
  const nb = asNumber(b);
  if (na !== undefined && nb !== undefined) return na - nb;
  return String(a).localeCompare(String(b));
}
