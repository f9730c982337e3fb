import { type Clock, systemClock } from "../../base/clock.js";
import { SpotrunError } from "../../base/errors.js";
import type { ApiCallMeter } from "../api-calls.js";
import type { CallClass } from "../call-budget.js";
import { redact, VastApiError } from "./vast-api-error.js";
import { resolveVastConfig } from "./vast-config.js";
import type {
  CreateInstanceBody,
  CreateInstanceResponse,
  RequestLogsBody,
  RequestLogsResponse,
  SearchBody,
  SearchResponse,
  ShowInstanceResponse,
  ShowInstancesResponse,
  VastErrorBody,
  VastInstance,
  VastOffer,
} from "./wire.js";

export interface VastClientOptions {
  apiKey: string;
  /** Ends in `/api/v0` (see normalizeBaseUrl). */
  baseUrl: string;
  clock?: Clock;
  /** Attempts per call while the server answers 429; the CLI's `--retry` defaults to 3. */
  attempts?: number;
  /** First wait after a 429 (the CLI's 0.15 s), grown ×1.5 per retry. */
  firstBackoffMs?: number;
  /** Per-request time limit (the CLI uses 30 s). */
  timeoutMs?: number;
  /** Every request (each try) waits for a token of the call budget and reports its answer; 429 is a throttle. */
  meter?: ApiCallMeter;
}

/** The budget's scope for Vast: one account (the API key), whatever the machines' locations. */
export const VAST_SCOPE = "global";

/** `GET /instances/123/?owner=me` → `GET /instances/{id}`: the action, without ids or the query. */
export function vastAction(method: string, path: string): string {
  const bare = (path.split("?")[0] as string).replace(/\/\d+(?=\/|$)/g, "/{id}").replace(/\/+$/, "");
  return `${method} ${bare || "/"}`;
}

/** Reads draw from the larger bucket: GETs, and the offer search (a POST that changes nothing). */
const vastCallClass = (method: Method, path: string): CallClass =>
  method === "GET" || path.startsWith("/bundles") ? "read" : "write";

type Method = "GET" | "POST" | "PUT" | "DELETE";

/**
 * A typed client for the REST API the official `vastai` CLI uses. Auth is the CLI's
 * `Authorization: Bearer <key>` header; the key is never put in a URL, a log line or an error.
 * 429 is retried with the CLI's backoff (0.15 s ×1.5, 3 attempts). So is every call but a create
 * that failed in a way that may pass — a 5xx, no answer within the timeout, a reset, an answer
 * cut off — since repeating it leaves the same state (a search, a read, a delete, a state or key
 * change); a create is not (repeating it could rent twice: the provider finds it by its label).
 * Any other failure becomes a VastApiError carrying the HTTP status and the server's `error`/`msg`.
 */
export class VastClient {
  readonly baseUrl: string;
  /** A true private field: JSON.stringify, util.inspect and loggers never see it. */
  readonly #apiKey: string;
  private readonly clock: Clock;
  private readonly attempts: number;
  private readonly firstBackoffMs: number;
  private readonly timeoutMs: number;
  private meter: ApiCallMeter | undefined;

  constructor(opts: VastClientOptions) {
    this.#apiKey = opts.apiKey;
    this.baseUrl = opts.baseUrl.replace(/\/+$/, "");
    this.clock = opts.clock ?? systemClock;
    this.attempts = Math.max(1, opts.attempts ?? 3);
    this.firstBackoffMs = opts.firstBackoffMs ?? 150;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.meter = opts.meter;
  }

  /** Put this client's requests on a provider's budget (a client handed in by a caller has none yet). */
  useMeter(meter: ApiCallMeter): void {
    this.meter ??= meter;
  }

  /** The client for `<home>`'s configuration; a missing key is a usage error that says where to put one. */
  static async fromConfig(home: string, opts: Omit<VastClientOptions, "apiKey" | "baseUrl"> = {}): Promise<VastClient> {
    const cfg = await resolveVastConfig(home);
    if (!cfg.apiKey)
      throw new SpotrunError("usage", "no Vast.ai API key found", {
        fix: `export VAST_API_KEY=… or write it to ${home}/config/vast_api_key (chmod 600)`,
        code: "vast_no_api_key",
      });
    return new VastClient({ ...opts, apiKey: cfg.apiKey, baseUrl: cfg.baseUrl });
  }

  // ---- offers -------------------------------------------------------------------------------

  /** `vastai search offers`: POST /bundles/ with the filter JSON. */
  async searchOffers(body: SearchBody): Promise<VastOffer[]> {
    const res = await this.call<SearchResponse>("POST", "/bundles/", body);
    return Array.isArray(res.offers) ? res.offers : [];
  }

  // ---- instances ----------------------------------------------------------------------------

  /** `vastai create instance <offer>`: PUT /asks/{offer}/. Returns the new instance id (`new_contract`). */
  async createInstance(offerId: number, body: CreateInstanceBody): Promise<number> {
    const res = await this.call<CreateInstanceResponse>("PUT", `/asks/${offerId}/`, body, { idempotent: false });
    if (typeof res.new_contract !== "number")
      throw new VastApiError(
        200,
        "bad_response",
        `vast: create instance on offer ${offerId} returned no new_contract`,
        undefined,
      );
    return res.new_contract;
  }

  /** `vastai show instances`: GET /instances?owner=me. */
  async showInstances(): Promise<VastInstance[]> {
    const res = await this.call<ShowInstancesResponse>("GET", "/instances?owner=me");
    return Array.isArray(res.instances) ? res.instances : [];
  }

  /** `vastai show instance <id>`: GET /instances/{id}/?owner=me; undefined when the API no longer has it. */
  async showInstance(id: number): Promise<VastInstance | undefined> {
    try {
      const res = await this.call<ShowInstanceResponse>("GET", `/instances/${id}/?owner=me`);
      return res.instances ?? undefined;
    } catch (e) {
      if (e instanceof VastApiError && e.status === 404) return undefined;
      throw e;
    }
  }

  /** `vastai start|stop instance`: PUT /instances/{id}/ {"state": …}. */
  async setState(id: number, state: "running" | "stopped"): Promise<void> {
    await this.call("PUT", `/instances/${id}/`, { state });
  }

  /** `vastai label instance`: PUT /instances/{id}/ {"label": …}. */
  async setLabel(id: number, label: string): Promise<void> {
    await this.call("PUT", `/instances/${id}/`, { label });
  }

  /** `vastai reboot instance`: PUT /instances/reboot/{id}/. */
  async reboot(id: number): Promise<void> {
    await this.call("PUT", `/instances/reboot/${id}/`, {});
  }

  /** `vastai change bid`: PUT /instances/bid_price/{id}/; without a price the API uses a winning bid. */
  async changeBid(id: number, price?: number): Promise<void> {
    await this.call("PUT", `/instances/bid_price/${id}/`, { client_id: "me", price: price ?? null });
  }

  /** `vastai attach ssh`: POST /instances/{id}/ssh/ {"ssh_key": "<OpenSSH public key line>"}. */
  async attachSshKey(id: number, publicKey: string): Promise<void> {
    await this.call("POST", `/instances/${id}/ssh/`, { ssh_key: publicKey });
  }

  /** `vastai destroy instance`: DELETE /instances/{id}/ with `{}`. */
  async destroy(id: number): Promise<void> {
    await this.call("DELETE", `/instances/${id}/`, {});
  }

  /**
   * `vastai logs`: PUT /instances/request_logs/{id}/, then fetch the `result_url` it returns. The
   * log is uploaded asynchronously, so the URL is polled (the CLI: 30 × 0.3 s) until it answers 200.
   * The result URL is a presigned object-store address: it gets no Authorization header.
   */
  async logs(
    id: number,
    opts: { tail?: number; filter?: string; daemonLogs?: boolean; polls?: number; pollMs?: number } = {},
  ): Promise<string> {
    const body: RequestLogsBody = {};
    if (opts.tail !== undefined) body.tail = String(opts.tail);
    if (opts.filter) body.filter = opts.filter;
    if (opts.daemonLogs) body.daemon_logs = "true";
    const res = await this.call<RequestLogsResponse>("PUT", `/instances/request_logs/${id}/`, body);
    if (!res.result_url)
      throw new VastApiError(
        200,
        "no_result_url",
        `vast: logs for instance ${id}: ${res.msg ?? "no result_url in the answer"}`,
        res.msg,
      );
    const polls = opts.polls ?? 30;
    for (let i = 0; i < polls; i++) {
      await this.clock.sleep(opts.pollMs ?? 300);
      let r: Response;
      try {
        r = await fetch(res.result_url, { signal: AbortSignal.timeout(this.timeoutMs) });
      } catch {
        continue;
      }
      if (r.status === 200) return await r.text();
      await r.body?.cancel();
    }
    throw new VastApiError(504, "logs_not_ready", `vast: logs for instance ${id} were not ready after ${polls} tries`, undefined);
  }

  /** `vastai show user`: GET /users/current/ — the cheapest authenticated call, for `spotrun setup`. */
  async currentUser(): Promise<Record<string, unknown>> {
    return this.call<Record<string, unknown>>("GET", "/users/current/");
  }

  // ---- transport ----------------------------------------------------------------------------

  private async call<T>(method: Method, path: string, body?: unknown, opts: { idempotent?: boolean } = {}): Promise<T> {
    const url = `${this.baseUrl}${path}`;
    const idempotent = opts.idempotent ?? true;
    let wait = this.firstBackoffMs;
    const action = vastAction(method, path);
    const cls = vastCallClass(method, path);
    for (let attempt = 1; ; attempt++) {
      const again = attempt < this.attempts;
      const record = this.meter ? await this.meter.start(VAST_SCOPE, action, cls) : () => {};
      let status: number;
      let text: string;
      try {
        const res = await fetch(url, {
          method,
          headers: {
            Authorization: `Bearer ${this.#apiKey}`,
            Accept: "application/json",
            ...(body === undefined ? {} : { "Content-Type": "application/json" }),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(this.timeoutMs),
        });
        status = res.status;
        // Read inside the try: an answer cut off mid-body is a network failure like a reset.
        text = await res.text();
      } catch (e) {
        record("error");
        if (idempotent && again) {
          await this.clock.sleep(wait);
          wait *= 1.5;
          continue;
        }
        const timedOut = (e as Error).name === "TimeoutError";
        const what = timedOut ? `no answer within ${this.timeoutMs / 1000} s` : networkCause(e);
        throw new VastApiError(0, "network", this.scrub(`vast: ${method} ${path.split("?")[0]}: ${what}`), undefined);
      }
      const parsed = parseJson(text);
      const refused = status < 200 || status > 299 || (isObject(parsed) && parsed.success === false);
      record(status === 429 ? "throttled" : refused ? "error" : "ok");
      // A throttled call was not carried out, so even a create is repeated.
      if ((status === 429 || (status >= 500 && idempotent)) && again) {
        await this.clock.sleep(wait);
        wait *= 1.5;
        continue;
      }
      if (refused) throw this.httpError(method, path, status, parsed, text);
      return parsed as T;
    }
  }

  private httpError(method: Method, path: string, status: number, parsed: unknown, text: string): VastApiError {
    const b: VastErrorBody = isObject(parsed) ? (parsed as VastErrorBody) : {};
    const serverMsg = typeof b.msg === "string" ? b.msg : !isObject(parsed) && text ? text.slice(0, 200) : undefined;
    const code = typeof b.error === "string" && b.error ? b.error : status === 200 ? "refused" : `http_${status}`;
    const what = serverMsg ?? b.error ?? `HTTP ${status}`;
    const msg = `vast: ${method} ${path.split("?")[0]} failed (HTTP ${status}${code.startsWith("http_") ? "" : `, ${code}`}): ${what}`;
    return new VastApiError(status, code, this.scrub(msg), serverMsg === undefined ? undefined : this.scrub(serverMsg));
  }

  private scrub(s: string): string {
    return redact(s, this.#apiKey);
  }
}

/** fetch says only "fetch failed" or "terminated"; the socket's own reason is in the cause. */
const networkCause = (e: unknown): string => {
  const err = e as Error & { cause?: { code?: string; message?: string } };
  const why = err.cause?.code ?? err.cause?.message;
  return why ? `${err.message} (${why})` : err.message;
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const parseJson = (text: string): unknown => {
  if (!text) return {};
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
};
