import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { ACTIONS, type ActionContext, Ec2Fault, type RefusalRule } from "./ec2-actions.js";
import { Ec2World, type SpotPricePoint } from "./ec2-world.js";
import { NETWORK_ACTIONS } from "./network-actions.js";
import { handlePricing, type PricedProduct } from "./pricing-handler.js";
import { parseQueryBody } from "./query-params.js";
import { checkSigV4 } from "./sigv4-check.js";
import { errorDocument, responseDocument, type XmlNode } from "./xml.js";

/**
 * An EC2 Query-API endpoint on 127.0.0.1 for tests driven through the real `EC2Client`
 * (`endpoint` override). It records every request (parsed form fields), checks SigV4, dedupes
 * launches by ClientToken, and can be told to refuse, throttle or fail. It also answers the
 * Price List `GetProducts` call (JSON 1.1) for `spotrun catalog update`.
 */
export interface RecordedRequest {
  action: string;
  params: Record<string, string>;
  status: number;
  errorCode?: string;
  /** From the SigV4 credential scope. */
  region?: string;
  service?: string;
  /** When it arrived (the server's clock, ms). */
  at: number;
}

/** EC2's own throttling: a token bucket per action (`capacity` tokens, `refillPerSec` added each second). */
export interface RateLimit {
  capacity: number;
  refillPerSec: number;
}

export interface Ec2ServerOptions {
  region?: string;
  zones?: string[];
  /** Access key → secret: when given, signatures are verified, not only their presence. */
  secrets?: Record<string, string>;
  /** Items per page for DescribeInstances / DescribeSpotPriceHistory / GetProducts. */
  pageSize?: number;
  now?: () => number;
  publicIpFor?: (n: number) => string;
}

interface Fault {
  remaining: number;
  action?: string;
  status: number;
  code: string;
  message: string;
}

export class Ec2Server {
  readonly world: Ec2World;
  readonly requests: RecordedRequest[] = [];
  readonly refusals: RefusalRule[] = [];
  products: PricedProduct[] = [];
  private readonly faults: Fault[] = [];
  private readonly stalls: { remaining: number; action?: string }[] = [];
  private readonly idempotency = new Map<string, { fingerprint: string; body: XmlNode[] }>();
  private server: Server | undefined;
  private readonly pageSize: number;
  private rate: RateLimit | undefined;
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly now: () => number;

  constructor(private readonly opts: Ec2ServerOptions = {}) {
    const region = opts.region ?? "us-east-1";
    this.world = new Ec2World(
      region,
      opts.zones ?? [`${region}a`, `${region}b`, `${region}c`],
      opts.now ?? Date.now,
      opts.publicIpFor,
    );
    this.pageSize = opts.pageSize ?? 1000;
    this.now = opts.now ?? Date.now;
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => this.handle(req, Buffer.concat(chunks), res));
    });
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
    return this.url;
  }

  get url(): string {
    const addr = this.server?.address() as AddressInfo | null;
    if (!addr) throw new Error("Ec2Server is not started");
    return `http://127.0.0.1:${addr.port}`;
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /** Actions these credentials may not call: answered 403 UnauthorizedOperation (DryRun or not), as IAM would. */
  readonly denied = new Set<string>();

  /** Refuse matching launches with an EC2 error code (InsufficientInstanceCapacity, …). */
  refuse(rule: RefusalRule): void {
    this.refusals.push(rule);
  }

  /** The next `n` requests (of `action`, if given) answer 503 RequestLimitExceeded. */
  throttle(n: number, action?: string): void {
    this.faults.push({ remaining: n, action, status: 503, code: "RequestLimitExceeded", message: "Request limit exceeded." });
  }

  /** The next `n` requests (of `action`, if given) fail with this status and code (e.g. 500 InternalError). */
  fail(n: number, status: number, code: string, action?: string): void {
    this.faults.push({ remaining: n, action, status, code, message: `simulated ${code}` });
  }

  /** The next `n` requests (of `action`, if given) get no answer at all: the connection stays open, silent, until the client gives up. */
  stall(n: number, action?: string): void {
    this.stalls.push({ remaining: n, action });
  }

  /**
   * Throttle as EC2 does (per account, region and action): each request takes a token from its
   * action's bucket, and one that finds it empty answers 503 RequestLimitExceeded in EC2's XML
   * error document. `undefined` turns it off.
   */
  rateLimit(limit: RateLimit | undefined): void {
    this.rate = limit;
    this.buckets.clear();
  }

  /** Requests of `action` (all, if not given) answered RequestLimitExceeded. */
  throttled(action?: string): number {
    return this.requests.filter((r) => r.errorCode === "RequestLimitExceeded" && (!action || r.action === action)).length;
  }

  private takeToken(action: string): boolean {
    if (!this.rate) return true;
    const now = this.now();
    const b = this.buckets.get(action) ?? { tokens: this.rate.capacity, at: now };
    b.tokens = Math.min(this.rate.capacity, b.tokens + ((now - b.at) / 1000) * this.rate.refillPerSec);
    b.at = now;
    this.buckets.set(action, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** Forget pending throttles, failures and stalls. */
  clearFaults(): void {
    this.faults.length = 0;
    this.stalls.length = 0;
  }

  setSpotPrices(points: SpotPricePoint[]): void {
    this.world.spotPrices = points;
  }

  /** Parsed params of every request of `action` that succeeded (or every one, with `all`). */
  received(action: string, all = false): Record<string, string>[] {
    return this.requests.filter((r) => r.action === action && (all || r.status === 200)).map((r) => r.params);
  }

  private ctx(): ActionContext {
    return { world: this.world, refusals: this.refusals, pageSize: this.pageSize };
  }

  private handle(req: IncomingMessage, body: Buffer, res: ServerResponse) {
    const target = req.headers["x-amz-target"];
    if (typeof target === "string") return this.handleJson(req, target, body, res);
    const params = parseQueryBody(body.toString("utf8"));
    const action = params.Action ?? "";
    const record: RecordedRequest = { action, params, status: 200, at: this.now() };
    this.requests.push(record);
    const requestId = randomUUID();
    const sendError = (status: number, code: string, message: string) => {
      record.status = status;
      record.errorCode = code;
      res.writeHead(status, { "content-type": "text/xml;charset=UTF-8" });
      res.end(errorDocument(code, message, requestId));
    };
    const sig = checkSigV4(
      { method: req.method ?? "POST", url: req.url ?? "/", headers: req.headers, body },
      { service: "ec2", secrets: this.opts.secrets },
    );
    if (!sig.ok) return sendError(401, sig.code, sig.message);
    record.region = sig.scope.region;
    record.service = sig.scope.service;
    if (req.method !== "POST") return sendError(400, "InvalidHttpRequest", "EC2 Query requests are POSTed");
    const stall = this.stalls.find((s) => s.remaining > 0 && (!s.action || s.action === action));
    if (stall) {
      stall.remaining--;
      record.status = 0;
      return;
    }
    const fault = this.faults.find((f) => f.remaining > 0 && (!f.action || f.action === action));
    if (fault) {
      fault.remaining--;
      return sendError(fault.status, fault.code, fault.message);
    }
    if (!this.takeToken(action)) return sendError(503, "RequestLimitExceeded", "Request limit exceeded.");
    const handler = ACTIONS[action] ?? NETWORK_ACTIONS[action as keyof typeof NETWORK_ACTIONS];
    if (!handler) return sendError(400, "InvalidAction", `The action ${action} is not valid for this web service.`);
    if (params.Version !== "2016-11-15")
      return sendError(400, "InvalidParameterValue", `unsupported API version ${params.Version}`);
    // IAM is evaluated before anything else, DryRun or not; a DryRun that passes it does nothing.
    if (this.denied.has(action))
      return sendError(
        403,
        "UnauthorizedOperation",
        `You are not authorized to perform this operation. User: arn:aws:iam::123456789012:user/spotrun-test is not authorized to perform: ec2:${action}`,
      );
    if (params.DryRun === "true")
      return sendError(412, "DryRunOperation", "Request would have succeeded, but DryRun flag is set.");
    try {
      const body = this.idempotent(action, params, () => handler(this.ctx(), params));
      res.writeHead(200, { "content-type": "text/xml;charset=UTF-8" });
      res.end(responseDocument(action, requestId, body));
    } catch (e) {
      if (e instanceof Ec2Fault) return sendError(e.status, e.code, e.message);
      sendError(500, "InternalError", e instanceof Error ? e.message : String(e));
    }
  }

  /** Same ClientToken and same parameters → the first answer again; different parameters → IdempotentParameterMismatch. */
  private idempotent(action: string, params: Record<string, string>, run: () => XmlNode[]): XmlNode[] {
    const token = params.ClientToken;
    if (!token) return run();
    const { ClientToken: _t, ...rest } = params;
    const fingerprint = JSON.stringify(Object.entries(rest).sort(([a], [b]) => (a < b ? -1 : 1)));
    const key = `${action}\u0000${token}`;
    const seen = this.idempotency.get(key);
    if (seen) {
      if (seen.fingerprint !== fingerprint)
        throw new Ec2Fault("IdempotentParameterMismatch", `The client token ${token} was used with different parameters.`);
      return seen.body;
    }
    const body = run();
    this.idempotency.set(key, { fingerprint, body });
    return body;
  }

  private handleJson(req: IncomingMessage, target: string, body: Buffer, res: ServerResponse) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString("utf8") || "{}");
    } catch {
      parsed = undefined;
    }
    const record: RecordedRequest = {
      action: target.split(".").pop() ?? target,
      params: flatten(parsed),
      status: 200,
      at: this.now(),
    };
    this.requests.push(record);
    const send = (status: number, payload: unknown) => {
      record.status = status;
      if (status !== 200) record.errorCode = (payload as { __type?: string }).__type;
      res.writeHead(status, { "content-type": "application/x-amz-json-1.1" });
      res.end(JSON.stringify(payload));
    };
    const sig = checkSigV4(
      { method: req.method ?? "POST", url: req.url ?? "/", headers: req.headers, body },
      { service: "pricing", secrets: this.opts.secrets },
    );
    if (!sig.ok) return send(400, { __type: sig.code, Message: sig.message });
    record.region = sig.scope.region;
    record.service = sig.scope.service;
    const fault = this.faults.find((f) => f.remaining > 0 && (!f.action || f.action === record.action));
    if (fault) {
      fault.remaining--;
      return send(fault.status, {
        __type: fault.code === "RequestLimitExceeded" ? "ThrottlingException" : fault.code,
        Message: fault.message,
      });
    }
    if (this.denied.has(record.action))
      return send(400, {
        __type: "AccessDeniedException",
        Message: `User: arn:aws:iam::123456789012:user/spotrun-test is not authorized to perform: pricing:${record.action}`,
      });
    if (parsed === undefined) return send(400, { __type: "SerializationException", Message: "body is not JSON" });
    const answer = handlePricing(target, parsed, this.products, this.pageSize);
    send(answer.status, answer.body);
  }
}

/** JSON request bodies recorded in the same flat `A.B.1.C` shape as query requests. */
function flatten(v: unknown, prefix = "", out: Record<string, string> = {}): Record<string, string> {
  if (Array.isArray(v)) {
    v.forEach((x, i) => {
      flatten(x, `${prefix}.${i + 1}`, out);
    });
  } else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) flatten(x, prefix ? `${prefix}.${k}` : k, out);
  else if (v !== undefined && prefix) out[prefix] = String(v);
  return out;
}
