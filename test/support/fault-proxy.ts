import { randomUUID } from "node:crypto";
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  request,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { Random } from "../../src/base/random.js";
import { errorDocument } from "../servers/ec2/xml.js";

/**
 * An HTTP proxy on 127.0.0.1 in front of a real server (the in-repo EC2 or Vast server, s3rver)
 * that injects the faults a cloud API shows in the wild, per request:
 *
 * - `throttle`: the provider's own throttling answer — EC2's `RequestLimitExceeded` error
 *   document with HTTP 503; Vast's HTTP 429 with the plain-text body its API sends
 *   (`API requests too frequent: endpoint threshold=…`, docs.vast.ai rate-limits-and-errors).
 *   Never forwarded: a throttled request was not carried out.
 * - `server-error`: HTTP 500 in the provider's format (EC2 `InternalError`, Vast's JSON error).
 * - `reset`: the client's connection is reset (TCP RST) with no response.
 * - `cut`: the response's status line, headers and the first half of its body, then the
 *   connection is destroyed.
 * - `stall`: the request is read and never answered; only the client's own timeout ends it.
 *
 * `reset`, `server-error` and `stall` take `forward`: whether the target saw the request first
 * (its answer is then lost — the case that makes retried writes dangerous). A `cut` is always
 * forwarded. Rules are matched against each request's operation (the EC2 Action, or
 * `METHOD /path` for a REST API); `chaos` draws faults from a seeded generator instead, so a
 * run is replayed by its seed. Every request is logged with the fault it got.
 */
export type Dialect = "ec2" | "vast" | "raw";

export type Fault =
  | { kind: "throttle" }
  | { kind: "server-error"; forward: boolean }
  | { kind: "reset"; forward: boolean }
  | { kind: "cut" }
  | { kind: "stall"; forward: boolean };
export type FaultKind = Fault["kind"];

export interface FaultRule {
  /** Which operations: exact name, pattern, or all when absent. */
  op?: string | RegExp;
  fault: Fault;
  /** How many matching requests get it (default 1; Infinity for a permanent fault). */
  times?: number;
}

export interface ChaosPlan {
  /** Chance that a request gets a fault. */
  probability: number;
  kinds: readonly Fault[];
  /** At most this many faults in a row for one operation (rules' included), so bounded retries still get through. */
  maxRun: number;
  /** Only these operations (default all). */
  op?: RegExp;
  /** The generator to draw from (default the proxy's): a case's own, so the case replays alone. */
  random?: Random;
}

export interface ProxiedRequest {
  n: number;
  op: string;
  method: string;
  path: string;
  body: string;
  fault: FaultKind | "none";
  /** Whether the target saw the request. */
  forwarded: boolean;
  /** The target's status, when it answered. */
  upstreamStatus?: number;
}

export interface FaultProxyOptions {
  /** The server behind the proxy: `http://127.0.0.1:port` (a path is ignored; the client's path is kept). */
  target: string;
  dialect: Dialect;
  /** For `chaos`. */
  random?: Random;
}

/** The operation of a request in a dialect: the EC2 Query `Action`, else `METHOD /path` with ids as `{id}`. */
export function operationOf(dialect: Dialect, method: string, path: string, body: string): string {
  if (dialect === "ec2") {
    const action = new URLSearchParams(body).get("Action");
    if (action) return action;
  }
  const p = path.split("?")[0] ?? path;
  return `${method} ${p.replace(/\/\d+(?=\/|$)/g, "/{id}")}`;
}

/** The throttling answer of each provider, exactly as its API sends it. */
function throttleAnswer(dialect: Dialect): { status: number; type: string; body: string } {
  if (dialect === "ec2")
    return {
      status: 503,
      type: "text/xml;charset=UTF-8",
      body: errorDocument("RequestLimitExceeded", "Request limit exceeded.", randomUUID()),
    };
  // Vast sets no Retry-After; its 429 body is usually plain text.
  return { status: 429, type: "text/plain", body: "API requests too frequent: endpoint threshold=2.0" };
}

function serverErrorAnswer(dialect: Dialect): { status: number; type: string; body: string } {
  if (dialect === "ec2")
    return {
      status: 500,
      type: "text/xml;charset=UTF-8",
      body: errorDocument("InternalError", "An internal error has occurred", randomUUID()),
    };
  return {
    status: 500,
    type: "application/json",
    body: JSON.stringify({ success: false, error: "server_error", msg: "Internal Server Error" }),
  };
}

const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection", "upgrade"]);

interface Upstream {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export class FaultProxy {
  readonly log: ProxiedRequest[] = [];
  private readonly rules: (FaultRule & { remaining: number })[] = [];
  private chaosPlan: ChaosPlan | undefined;
  private readonly runs = new Map<string, number>();
  private readonly sockets = new Set<Socket>();
  private server: Server | undefined;
  private readonly target: URL;
  /** TCP connections accepted so far (a retry after a stall comes on a new one). */
  connections = 0;

  constructor(private readonly opts: FaultProxyOptions) {
    this.target = new URL(opts.target);
  }

  async start(): Promise<string> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => void this.handle(req, Buffer.concat(chunks), res));
    });
    server.on("connection", (s) => {
      this.connections++;
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
      s.on("error", () => {});
    });
    // A stalled request must not be ended by the proxy's own timeouts: only the client gives up.
    server.requestTimeout = 0;
    server.headersTimeout = 0;
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    this.server = server;
    return this.url;
  }

  /** `http://127.0.0.1:<port>` followed by the target's path (e.g. Vast's `/api/v0`). */
  get url(): string {
    const addr = this.server?.address() as AddressInfo | null;
    if (!addr) throw new Error("FaultProxy is not started");
    const path = this.target.pathname === "/" ? "" : this.target.pathname.replace(/\/+$/, "");
    return `http://127.0.0.1:${addr.port}${path}`;
  }

  inject(rule: FaultRule): void {
    this.rules.push({ ...rule, remaining: rule.times ?? 1 });
  }

  /** The next `n` requests get no answer (the stall proxy of old, per request). */
  stall(n: number, forward = false): void {
    this.inject({ fault: { kind: "stall", forward }, times: n });
  }

  chaos(plan: ChaosPlan | undefined): void {
    if (plan && !plan.random && !this.opts.random) throw new Error("FaultProxy.chaos needs a seeded random");
    this.chaosPlan = plan;
    this.runs.clear();
  }

  /** Forget every rule and the chaos plan; requests then pass through. */
  clear(): void {
    this.rules.length = 0;
    this.chaos(undefined);
  }

  requests(op?: string): ProxiedRequest[] {
    return op === undefined ? this.log : this.log.filter((r) => r.op === op);
  }

  faulted(kind?: FaultKind): ProxiedRequest[] {
    return this.log.filter((r) => r.fault !== "none" && (kind === undefined || r.fault === kind));
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    for (const sock of this.sockets) sock.destroy();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private pick(op: string): Fault | undefined {
    const rule = this.rules.find(
      (r) => r.remaining > 0 && (r.op === undefined || (typeof r.op === "string" ? r.op === op : r.op.test(op))),
    );
    if (rule) {
      rule.remaining--;
      // A rule's fault counts towards the chaos run of its operation.
      this.runs.set(op, (this.runs.get(op) ?? 0) + 1);
      return rule.fault;
    }
    const c = this.chaosPlan;
    const random = c?.random ?? this.opts.random;
    if (!c || !random || (c.op && !c.op.test(op))) return undefined;
    const run = this.runs.get(op) ?? 0;
    // Draw both numbers every time, so the sequence of draws does not depend on the run lengths.
    const roll = random();
    const which = Math.floor(random() * c.kinds.length);
    if (run >= c.maxRun || roll >= c.probability) {
      this.runs.set(op, 0);
      return undefined;
    }
    this.runs.set(op, run + 1);
    return c.kinds[which];
  }

  private async handle(req: IncomingMessage, body: Buffer, res: ServerResponse): Promise<void> {
    const method = req.method ?? "GET";
    const path = req.url ?? "/";
    const text = body.toString("utf8");
    const op = operationOf(this.opts.dialect, method, path, text);
    const fault = this.pick(op);
    const entry: ProxiedRequest = {
      n: this.log.length,
      op,
      method,
      path,
      body: text,
      fault: fault?.kind ?? "none",
      forwarded: false,
    };
    this.log.push(entry);
    const socket = req.socket;
    const forward = async (): Promise<Upstream | undefined> => {
      entry.forwarded = true;
      try {
        const up = await this.forward(req, body);
        entry.upstreamStatus = up.status;
        return up;
      } catch {
        socket.destroy();
        return undefined;
      }
    };
    const answer = (a: { status: number; type: string; body: string }) => {
      res.writeHead(a.status, { "content-type": a.type, "content-length": Buffer.byteLength(a.body) });
      res.end(a.body);
    };
    switch (fault?.kind) {
      case undefined: {
        const up = await forward();
        if (up) this.relay(res, up, up.body.length);
        return;
      }
      case "throttle":
        return answer(throttleAnswer(this.opts.dialect));
      case "server-error":
        if (fault.forward && !(await forward())) return;
        return answer(serverErrorAnswer(this.opts.dialect));
      case "reset":
        if (fault.forward && !(await forward())) return;
        socket.resetAndDestroy();
        return;
      case "stall":
        if (fault.forward) await forward();
        // Read, never answered: the socket stays open until the client (or close()) ends it.
        return;
      case "cut": {
        const up = await forward();
        if (!up) return;
        if (up.body.length < 2) {
          socket.resetAndDestroy();
          return;
        }
        this.relay(res, up, Math.floor(up.body.length / 2), () => socket.destroy());
        return;
      }
    }
  }

  /** The target's answer: its status and headers with the full length, and `bytes` of its body. */
  private relay(res: ServerResponse, up: Upstream, bytes: number, then?: () => void): void {
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(up.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
    headers["content-length"] = String(up.body.length);
    res.writeHead(up.status, headers);
    if (!then) {
      res.end(up.body);
      return;
    }
    res.write(up.body.subarray(0, bytes), () => then());
  }

  private forward(req: IncomingMessage, body: Buffer): Promise<Upstream> {
    return new Promise((resolve, reject) => {
      const headers = { ...req.headers };
      delete headers.connection;
      delete headers["keep-alive"];
      // The Host header is what the client signed (SigV4): it goes through unchanged.
      const out = request(
        {
          host: this.target.hostname,
          port: this.target.port,
          method: req.method,
          path: req.url,
          headers,
          agent: false,
        },
        (up) => {
          const chunks: Buffer[] = [];
          up.on("data", (c: Buffer) => chunks.push(c));
          up.on("end", () => resolve({ status: up.statusCode ?? 502, headers: up.headers, body: Buffer.concat(chunks) }));
          up.on("error", reject);
        },
      );
      out.on("error", reject);
      out.end(body);
    });
  }
}

export async function startFaultProxy(opts: FaultProxyOptions): Promise<FaultProxy> {
  const p = new FaultProxy(opts);
  await p.start();
  return p;
}
