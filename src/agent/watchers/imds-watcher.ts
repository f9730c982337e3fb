import type { Notice, NoticeWatcher } from "../notice.js";

/**
 * The AWS watcher: polls `spot/instance-action` and the rebalance recommendation through IMDSv2
 * every `pollMs` (250 ms by default: NTH polls every 2 s, AWS suggests 5 s). The token is cached
 * and renewed a minute before it expires, and dropped on a 401. Honours
 * AWS_EC2_METADATA_SERVICE_ENDPOINT like the AWS SDKs.
 */
export interface ImdsWatcherOptions {
  endpoint?: string;
  pollMs?: number;
  tokenTtlSeconds?: number;
  now?: () => number;
}

export class ImdsWatcher implements NoticeWatcher {
  private readonly base: string;
  private readonly pollMs: number;
  private readonly ttl: number;
  private readonly now: () => number;
  private token: { value: string; expiresAt: number } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private inflight: Promise<void> | undefined;
  private readonly seen = new Set<string>();
  private readonly abort = new AbortController();

  constructor(opts: ImdsWatcherOptions = {}) {
    this.base = (opts.endpoint ?? process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT ?? "http://169.254.169.254").replace(/\/+$/, "");
    this.pollMs = opts.pollMs ?? 250;
    this.ttl = opts.tokenTtlSeconds ?? 21600;
    this.now = opts.now ?? Date.now;
  }

  start(onNotice: (n: Notice) => void): void {
    this.running = true;
    const tick = () => {
      if (!this.running) return;
      this.inflight = this.poll(onNotice)
        .catch(() => {
          // An unreachable endpoint is retried on the next tick; the agent keeps supervising.
        })
        .finally(() => {
          if (this.running) this.timer = setTimeout(tick, this.pollMs);
        });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.abort.abort();
    await this.inflight;
  }

  private tokenRequest: Promise<string> | undefined;

  /** One token request at a time: the two paths polled together share it. */
  private getToken(): Promise<string> {
    if (this.token && this.token.expiresAt - 60_000 > this.now()) return Promise.resolve(this.token.value);
    this.tokenRequest ??= this.fetchToken().finally(() => {
      this.tokenRequest = undefined;
    });
    return this.tokenRequest;
  }

  private async fetchToken(): Promise<string> {
    const res = await fetch(`${this.base}/latest/api/token`, {
      method: "PUT",
      headers: { "X-aws-ec2-metadata-token-ttl-seconds": String(this.ttl) },
      signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(1000)]),
    });
    if (!res.ok) throw new Error(`IMDS token: HTTP ${res.status}`);
    const value = await res.text();
    const ttl = Number(res.headers.get("x-aws-ec2-metadata-token-ttl-seconds") ?? this.ttl);
    this.token = { value, expiresAt: this.now() + ttl * 1000 };
    return value;
  }

  private async get(path: string): Promise<string | undefined> {
    const token = await this.getToken();
    const res = await fetch(`${this.base}${path}`, {
      headers: { "X-aws-ec2-metadata-token": token },
      signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(1000)]),
    });
    if (res.status === 401) {
      this.token = undefined;
      await res.body?.cancel();
      throw new Error("IMDS token rejected");
    }
    if (res.status === 404) {
      await res.body?.cancel();
      return undefined;
    }
    if (!res.ok) throw new Error(`IMDS ${path}: HTTP ${res.status}`);
    return res.text();
  }

  private async poll(onNotice: (n: Notice) => void): Promise<void> {
    const [action, rebalance] = await Promise.all([
      this.get("/latest/meta-data/spot/instance-action"),
      this.get("/latest/meta-data/events/recommendations/rebalance"),
    ]);
    const seenAt = this.now();
    if (action) {
      const n = parseInstanceAction(action, seenAt);
      if (n && !this.seen.has(`i:${n.deadline}`)) {
        this.seen.add(`i:${n.deadline}`);
        onNotice(n);
      }
    }
    if (rebalance && !this.seen.has("r")) {
      this.seen.add("r");
      try {
        const at = Date.parse((JSON.parse(rebalance) as { noticeTime?: string }).noticeTime ?? "");
        onNotice({ kind: "rebalance", at: Number.isNaN(at) ? seenAt : at, source: "aws-imds", seenAt });
      } catch {
        // Not the documented shape: ignored.
      }
    }
  }
}

/** `{"action":"terminate","time":"…Z"}` → a notice; anything else → undefined (an explicit no-op). */
export function parseInstanceAction(body: string, seenAt: number): Extract<Notice, { kind: "interruption" }> | undefined {
  try {
    const j = JSON.parse(body) as { action?: unknown; time?: unknown };
    if (typeof j.action !== "string" || typeof j.time !== "string") return undefined;
    const deadline = Date.parse(j.time);
    if (Number.isNaN(deadline)) return undefined;
    return { kind: "interruption", action: j.action, deadline, source: "aws-imds", seenAt };
  } catch {
    return undefined;
  }
}
