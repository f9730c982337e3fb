import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A metadata endpoint that speaks AWS IMDSv2 as documented (wire-facts §1): token PUT with a TTL of
 * 1–21600 s, 401 for a missing, unknown or expired token, `spot/instance-action` 404 until a
 * notice and then `{action, time}`, the rebalance recommendation, `instance-life-cycle`, and the
 * identity paths. The agent cannot tell it from EC2's.
 */
export interface ImdsIdentity {
  instanceId: string;
  instanceType: string;
  availabilityZone: string;
  lifecycle: "spot" | "on-demand";
}

export interface ImdsOptions {
  identity: ImdsIdentity;
  now?: () => number;
  /** Extra routes under `/spotrun/` (the local host's control plane). */
  control?: (path: string, req: IncomingMessage, res: ServerResponse) => void;
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

export class ImdsServer {
  private server: Server | undefined;
  private tokens = new Map<string, number>();
  private notice: { action: string; time: number } | undefined;
  private rebalanceAt: number | undefined;
  private readonly now: () => number;
  /** Every request, for tests that assert the client used tokens. */
  readonly requests: { method: string; path: string; token: string | undefined }[] = [];

  constructor(private readonly opts: ImdsOptions) {
    this.now = opts.now ?? Date.now;
  }

  setNotice(action: "terminate" | "stop" | "hibernate", time: number): void {
    this.notice = { action, time };
  }

  setRebalance(at: number): void {
    this.rebalanceAt = at;
  }

  async listen(port = 0, host = "127.0.0.1"): Promise<number> {
    this.server = createServer((req, res) => this.handle(req, res));
    this.server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => this.server?.listen(port, host, resolve));
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    const s = this.server;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? "/").split("?")[0] as string;
    const token = req.headers["x-aws-ec2-metadata-token"] as string | undefined;
    if (this.requests.length < 10_000) this.requests.push({ method: req.method ?? "GET", path, token });
    if (path.startsWith("/spotrun/") && this.opts.control) {
      this.opts.control(path, req, res);
      return;
    }
    if (path === "/latest/api/token") {
      this.issueToken(req, res);
      return;
    }
    if (req.method !== "GET") {
      send(res, 405, "");
      return;
    }
    const expires = token ? this.tokens.get(token) : undefined;
    if (expires === undefined || expires < this.now()) {
      send(res, 401, "");
      return;
    }
    const body = this.lookup(path);
    if (body === undefined) {
      send(res, 404, notFoundHtml);
      return;
    }
    send(res, 200, body, body.startsWith("{") || body.startsWith("[") ? "application/json" : "text/plain");
  }

  private issueToken(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== "PUT") {
      send(res, 405, "");
      return;
    }
    const ttl = Number(req.headers["x-aws-ec2-metadata-token-ttl-seconds"]);
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > 21600) {
      send(res, 400, "");
      return;
    }
    const token = randomBytes(24).toString("base64url");
    this.tokens.set(token, this.now() + ttl * 1000);
    res.setHeader("X-aws-ec2-metadata-token-ttl-seconds", String(ttl));
    send(res, 200, token);
  }

  private lookup(path: string): string | undefined {
    const id = this.opts.identity;
    const region = id.availabilityZone.slice(0, -1);
    switch (path) {
      case "/latest/meta-data/spot/instance-action":
        return this.notice ? JSON.stringify({ action: this.notice.action, time: iso(this.notice.time) }) : undefined;
      case "/latest/meta-data/spot/termination-time":
        return this.notice && this.notice.action === "terminate" ? iso(this.notice.time) : undefined;
      case "/latest/meta-data/events/recommendations/rebalance":
        return this.rebalanceAt !== undefined ? JSON.stringify({ noticeTime: iso(this.rebalanceAt) }) : undefined;
      case "/latest/meta-data/events/maintenance/scheduled":
        return "[]";
      case "/latest/meta-data/instance-life-cycle":
        return id.lifecycle;
      case "/latest/meta-data/instance-id":
        return id.instanceId;
      case "/latest/meta-data/instance-type":
        return id.instanceType;
      case "/latest/meta-data/placement/availability-zone":
        return id.availabilityZone;
      case "/latest/dynamic/instance-identity/document":
        return JSON.stringify({
          accountId: "000000000000",
          instanceId: id.instanceId,
          instanceType: id.instanceType,
          availabilityZone: id.availabilityZone,
          region,
          privateIp: "127.0.0.1",
        });
      default:
        return undefined;
    }
  }
}

const notFoundHtml =
  '<?xml version="1.0" encoding="iso-8859-1"?>\n<html><head><title>404 - Not Found</title></head><body><h1>404 - Not Found</h1></body></html>\n';

function send(res: ServerResponse, status: number, body: string, type = "text/plain"): void {
  res.writeHead(status, { "Content-Type": type, "Content-Length": Buffer.byteLength(body), Server: "EC2ws" });
  res.end(body);
}
