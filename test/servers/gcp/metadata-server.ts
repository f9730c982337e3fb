import { createHash } from "node:crypto";
import type { ServerResponse } from "node:http";
import { type Received, RecordingServer } from "./http-kit.js";

/**
 * The GCE metadata server as the google-cloud-go client and the GCE docs describe it: every
 * request needs `Metadata-Flavor: Google` (else 403), every answer carries `Metadata-Flavor:
 * Google` and an `ETag`; `?wait_for_change=true` hangs until the value's ETag differs from
 * `last_etag` (or, without one, until the next change), bounded by `timeout_sec`.
 */
const PREFIX = "/computeMetadata/v1/";

interface Waiter {
  key: string;
  lastEtag: string | undefined;
  res: ServerResponse;
  timer: NodeJS.Timeout | undefined;
}

export class MetadataServer {
  readonly http: RecordingServer;
  readonly values = new Map<string, string>([
    ["instance/preempted", "FALSE"],
    ["instance/maintenance-event", "NONE"],
    ["instance/scheduling/preemptible", "TRUE"],
    ["instance/scheduling/on-host-maintenance", "TERMINATE"],
    ["instance/scheduling/automatic-restart", "FALSE"],
    ["instance/id", "4520031799277581759"],
    ["instance/name", "spotrun-test-vm"],
    ["instance/zone", "projects/123456789/zones/us-central1-a"],
    ["project/project-id", "spotrun-test"],
  ]);
  private waiters = new Set<Waiter>();
  /** Answer this many requests with 503 before behaving (to exercise the client's retry). */
  failNext = 0;

  constructor() {
    this.http = new RecordingServer((req, res) => this.route(req, res));
  }

  /** `host:port`, the form GCE_METADATA_HOST takes. */
  get host(): string {
    return `${this.http.address}:${this.http.port}`;
  }

  async start(address?: string): Promise<this> {
    await this.http.start(address);
    return this;
  }

  async close(): Promise<void> {
    for (const w of this.waiters) if (w.timer) clearTimeout(w.timer);
    this.waiters.clear();
    await this.http.close();
  }

  /** How many long polls are hanging right now. */
  get hanging(): number {
    return this.waiters.size;
  }

  static etagOf(value: string): string {
    return createHash("sha256").update(value).digest("hex").slice(0, 16);
  }

  set(key: string, value: string): void {
    this.values.set(key, value);
    const etag = MetadataServer.etagOf(value);
    for (const w of [...this.waiters])
      if (w.key === key && w.lastEtag !== etag) {
        this.waiters.delete(w);
        if (w.timer) clearTimeout(w.timer);
        this.answer(w.res, value);
      }
  }

  private answer(res: ServerResponse, value: string): void {
    if (res.destroyed) return;
    res.writeHead(200, {
      "Metadata-Flavor": "Google",
      "Content-Type": "application/text",
      ETag: MetadataServer.etagOf(value),
      "Content-Length": Buffer.byteLength(value),
    });
    res.end(value);
  }

  private route(req: Received, res: ServerResponse): void {
    if (req.headers["metadata-flavor"] !== "Google") {
      res.writeHead(403, { "Content-Type": "text/html" });
      res.end("Missing Metadata-Flavor:Google header.");
      return;
    }
    if (this.failNext > 0) {
      this.failNext--;
      res.writeHead(503, { "Metadata-Flavor": "Google" });
      res.end("Service Unavailable");
      return;
    }
    if (req.method !== "GET" || !req.path.startsWith(PREFIX)) {
      res.writeHead(404, { "Metadata-Flavor": "Google" });
      res.end("Not Found");
      return;
    }
    const key = req.path.slice(PREFIX.length).replace(/\/$/, "");
    const value = this.values.get(key);
    if (value === undefined) {
      res.writeHead(404, { "Metadata-Flavor": "Google", "Content-Type": "text/html" });
      res.end("Not Found");
      return;
    }
    if (req.query.get("wait_for_change") !== "true") {
      this.answer(res, value);
      return;
    }
    const lastEtag = req.query.get("last_etag") ?? undefined;
    if (lastEtag !== undefined && lastEtag !== MetadataServer.etagOf(value)) {
      this.answer(res, value);
      return;
    }
    const w: Waiter = { key, lastEtag: lastEtag ?? MetadataServer.etagOf(value), res, timer: undefined };
    const timeoutSec = Number(req.query.get("timeout_sec") ?? "0");
    if (timeoutSec > 0)
      w.timer = setTimeout(() => {
        this.waiters.delete(w);
        this.answer(res, this.values.get(key) ?? "");
      }, timeoutSec * 1000);
    res.on("close", () => {
      if (w.timer) clearTimeout(w.timer);
      this.waiters.delete(w);
    });
    this.waiters.add(w);
  }
}
