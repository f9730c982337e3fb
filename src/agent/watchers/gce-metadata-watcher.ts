import { type Clock, systemClock } from "../../base/clock.js";
import { type Logger, silentLogger } from "../../base/logger.js";
import { backoffWithJitter, type Random } from "../../base/random.js";
import type { Notice, NoticeWatcher } from "../notice.js";

/**
 * Watches the GCE metadata server for the spot/preemptible notice and for host maintenance that
 * will stop the VM. Each key is long-polled with `?wait_for_change=true&last_etag=…`, so the
 * notice arrives the moment GCE sets it instead of on the next poll; that matters because GCE
 * gives only ~30 s between the notice and the hard stop.
 */
export const GCE_SOURCE = "gce-metadata";
/** GCE's preemption notice: ACPI soft-off, then a hard stop about 30 s later. */
export const GCE_PREEMPTION_NOTICE_MS = 30_000;

const KEYS = ["instance/preempted", "instance/maintenance-event"] as const;
type Key = (typeof KEYS)[number];

/** Pure: one metadata value to a notice, or undefined for "nothing to do" (and anything unknown). */
export function parseGceValue(key: Key, value: string, seenAt: number): Notice | undefined {
  const v = value.trim();
  if (key === "instance/preempted")
    return v === "TRUE"
      ? { kind: "interruption", action: "preempted", deadline: seenAt + GCE_PREEMPTION_NOTICE_MS, source: GCE_SOURCE, seenAt }
      : undefined;
  // MIGRATE_ON_HOST_MAINTENANCE is a live migration: the VM keeps running, nothing to save.
  return v === "TERMINATE_ON_HOST_MAINTENANCE" ? { kind: "maintenance", code: v, source: GCE_SOURCE, seenAt } : undefined;
}

/** `http://host[:port]` from GCE_METADATA_HOST (google-cloud-go) or GCE_METADATA_IP (TensorFlow, JAX). */
export function metadataBaseUrl(env: NodeJS.ProcessEnv = process.env): string {
  const host = env.GCE_METADATA_HOST || env.GCE_METADATA_IP || "metadata.google.internal";
  return `http://${host}/computeMetadata/v1`;
}

/** The metadata server does not define this key on this VM. */
export class MetadataKeyAbsent extends Error {
  constructor(readonly key: string) {
    super(`metadata key ${key} is not defined`);
    this.name = "MetadataKeyAbsent";
  }
}

export interface GceMetadataWatcherOptions {
  /** Default from the environment, see metadataBaseUrl. */
  baseUrl?: string;
  clock?: Clock;
  logger?: Logger;
  random?: Random;
  /** How long the server may hold one long poll (`timeout_sec`); the client allows a little more. */
  holdSec?: number;
  /** Retry backoff after an error: full jitter in [0, min(cap, base·2^n)]. */
  backoffBaseMs?: number;
  backoffCapMs?: number;
}

export class GceMetadataWatcher implements NoticeWatcher {
  private readonly baseUrl: string;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly random: Random;
  private readonly holdSec: number;
  private readonly backoffBaseMs: number;
  private readonly backoffCapMs: number;
  private abort: AbortController | undefined;
  private loops: Promise<void>[] = [];

  constructor(opts: GceMetadataWatcherOptions = {}) {
    this.baseUrl = opts.baseUrl ?? metadataBaseUrl();
    this.clock = opts.clock ?? systemClock;
    this.logger = opts.logger ?? silentLogger;
    this.random = opts.random ?? Math.random;
    this.holdSec = opts.holdSec ?? 60;
    this.backoffBaseMs = opts.backoffBaseMs ?? 250;
    this.backoffCapMs = opts.backoffCapMs ?? 5_000;
  }

  start(onNotice: (n: Notice) => void): void {
    if (this.abort) throw new Error("GceMetadataWatcher already started");
    const abort = new AbortController();
    this.abort = abort;
    this.loops = KEYS.map((key) => this.watch(key, abort.signal, onNotice));
  }

  async stop(): Promise<void> {
    this.abort?.abort(new Error("watcher stopped"));
    await Promise.allSettled(this.loops);
    this.loops = [];
    this.abort = undefined;
  }

  private async watch(key: Key, signal: AbortSignal, onNotice: (n: Notice) => void): Promise<void> {
    let etag: string | undefined;
    let failures = 0;
    // One notice per distinct value: a value that goes back to normal re-arms the key.
    let reported: string | undefined;
    while (!signal.aborted) {
      try {
        // The first read does not wait, so a notice already set when the agent starts is seen at once.
        const r = await this.get(key, etag, signal);
        failures = 0;
        etag = r.etag;
        // Without an ETag there is nothing to long-poll on; fall back to a short plain poll.
        if (etag === undefined) await this.clock.sleep(this.backoffCapMs / 5, signal).catch(() => undefined);
        const notice = parseGceValue(key, r.value, this.clock.now());
        if (!notice) reported = undefined;
        else if (reported !== r.value.trim()) {
          reported = r.value.trim();
          onNotice(notice);
        }
      } catch (e) {
        if (signal.aborted) return;
        if (e instanceof MetadataKeyAbsent) {
          // Not every VM defines every key; look again later without flooding the log.
          await this.clock.sleep(this.backoffCapMs, signal).catch(() => undefined);
          continue;
        }
        const delay = backoffWithJitter(this.random, Math.min(failures++, 10), this.backoffBaseMs, this.backoffCapMs);
        this.logger.warn(
          { key, err: e instanceof Error ? e.message : String(e), retryInMs: delay },
          "metadata server request failed",
        );
        // A server that answered the same ETag would make us spin; forget it so the next read is a plain GET.
        etag = undefined;
        await this.clock.sleep(delay, signal).catch(() => undefined);
      }
    }
  }

  private async get(
    key: Key,
    lastEtag: string | undefined,
    signal: AbortSignal,
  ): Promise<{ value: string; etag: string | undefined }> {
    const q =
      lastEtag === undefined ? "" : `?wait_for_change=true&last_etag=${encodeURIComponent(lastEtag)}&timeout_sec=${this.holdSec}`;
    const timeout = AbortSignal.timeout((this.holdSec + 10) * 1000);
    const res = await fetch(`${this.baseUrl}/${key}${q}`, {
      headers: { "Metadata-Flavor": "Google" },
      signal: AbortSignal.any([signal, timeout]),
    });
    const value = await res.text();
    if (res.status === 404) throw new MetadataKeyAbsent(key);
    if (!res.ok) throw new Error(`GET ${key}: HTTP ${res.status}`);
    // The Go client checks this header to know it talks to a real metadata server, not a captive portal.
    if (res.headers.get("metadata-flavor") !== "Google") throw new Error(`GET ${key}: answer lacks Metadata-Flavor: Google`);
    return { value, etag: res.headers.get("etag") ?? undefined };
  }
}
