import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** One request as a test server received it, for assertions. */
export interface Received {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage["headers"];
  body: Buffer;
  /** The body parsed as JSON when it is JSON, else undefined. */
  json: unknown;
}

export type Handler = (req: Received, res: ServerResponse) => void | Promise<void>;

/** A small HTTP server on 127.0.0.1 that records every request before handing it to `handler`. */
export class RecordingServer {
  readonly received: Received[] = [];
  private server: Server | undefined;
  private readonly sockets = new Set<import("node:net").Socket>();
  port = 0;
  /** Where it listens: 127.0.0.1, or an address bare test hosts route to. */
  address = "127.0.0.1";

  private stalls: { remaining: number; match: (r: Received) => boolean }[] = [];

  constructor(private readonly handler: Handler) {}

  /** The next `n` requests (that `match`, if given) are recorded and never answered: a peer that hangs. */
  stall(n: number, match: (r: Received) => boolean = () => true): void {
    this.stalls.push({ remaining: n, match });
  }

  get url(): string {
    return `http://${this.address}:${this.port}`;
  }

  async start(address = "127.0.0.1"): Promise<this> {
    this.address = address;
    const server = createServer((req, res) => void this.onRequest(req, res));
    server.on("connection", (s) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(0, address, resolve));
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    return this;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    let json: unknown;
    if (body.length > 0 && String(req.headers["content-type"] ?? "").includes("json")) {
      try {
        json = JSON.parse(body.toString("utf8"));
      } catch {
        json = undefined;
      }
    }
    const r: Received = {
      method: req.method ?? "GET",
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      body,
      json,
    };
    this.received.push(r);
    const stall = this.stalls.find((x) => x.remaining > 0 && x.match(r));
    if (stall) {
      stall.remaining--;
      return;
    }
    try {
      await this.handler(r, res);
    } catch (e) {
      if (!res.headersSent) sendJson(res, 500, googleError(500, String(e), "backendError", "INTERNAL"));
    }
  }
}

export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): undefined {
  const text = JSON.stringify(value);
  res.writeHead(status, {
    "content-type": "application/json; charset=UTF-8",
    "content-length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** The error body every Google JSON API returns (AIP-193 plus the legacy `errors[]` with `reason`). */
export function googleError(code: number, message: string, reason: string, status: string) {
  return { error: { code, message, status, errors: [{ domain: "global", reason, message }] } };
}

/** Answer the OAuth2 refresh-token grant that `external_account_authorized_user` ADC files use. */
export function handleToken(req: Received, res: ServerResponse, token: string): boolean {
  if (req.method !== "POST" || req.path !== "/token") return false;
  const form = new URLSearchParams(req.body.toString("utf8"));
  if (form.get("grant_type") !== "refresh_token") {
    sendJson(res, 400, { error: "unsupported_grant_type" });
    return true;
  }
  sendJson(res, 200, { access_token: token, expires_in: 3600, token_type: "Bearer" });
  return true;
}
