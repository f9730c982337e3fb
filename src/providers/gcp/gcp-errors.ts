import type { RefusalKind } from "../provider.js";

/**
 * Google API errors reduced to their typed parts: the HTTP status, the gRPC/AIP status name and
 * the machine-readable `reason`s (Compute's `errors[].reason`, an operation's `errors[].code`,
 * AIP-193 ErrorInfo). Classification reads only these, never the human message.
 */
export interface GcpErrorInfo {
  httpStatus?: number;
  /** AIP-193 status such as RESOURCE_EXHAUSTED, or the gRPC code's name. */
  status?: string;
  reasons: string[];
}

const GRPC_NAMES = [
  "OK",
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED",
];

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null;

function reasonsOf(errorBody: Obj): string[] {
  const out: string[] = [];
  for (const e of Array.isArray(errorBody.errors) ? errorBody.errors : []) {
    if (isObj(e) && typeof e.reason === "string") out.push(e.reason);
    if (isObj(e) && typeof e.code === "string") out.push(e.code);
  }
  for (const d of Array.isArray(errorBody.details) ? errorBody.details : [])
    if (isObj(d) && typeof d.reason === "string") out.push(d.reason);
  return out;
}

/** The `{error:{code,status,errors[],details[]}}` JSON body, wherever the client library left it. */
function bodyOf(e: Obj): Obj | undefined {
  const data = isObj(e.response) ? e.response.data : undefined;
  if (isObj(data) && isObj(data.error)) return data.error;
  // google-gax 5's REST transport reads the error body as a stream, and gaxios then carries the
  // body text as the error's message; it is the documented JSON error document, decoded here.
  for (const text of [data, e.message]) {
    if (typeof text !== "string" || !text.trimStart().startsWith("{")) continue;
    try {
      const parsed = JSON.parse(text) as unknown;
      if (isObj(parsed) && isObj(parsed.error)) return parsed.error;
    } catch {
      // not a JSON error document
    }
  }
  return undefined;
}

/** What a request the transport's time limit cut off is called here (the abort carries no status). */
export const REQUEST_TIMEOUT = "REQUEST_TIMEOUT";

export function gcpErrorInfo(e: unknown): GcpErrorInfo | undefined {
  if (!isObj(e)) return undefined;
  // Our own transport timeout (gcp-clients): the request was aborted, never answered.
  // (gaxios wraps the abort: GaxiosError.error is the AbortError.)
  if (e.name === "AbortError" || (isObj(e.error) && e.error.name === "AbortError"))
    return { status: "DEADLINE_EXCEEDED", reasons: [REQUEST_TIMEOUT] };
  const info: GcpErrorInfo = { reasons: [] };
  const body = bodyOf(e);
  if (body) {
    if (typeof body.code === "number") info.httpStatus = body.code;
    if (typeof body.status === "string") info.status = body.status;
    info.reasons.push(...reasonsOf(body));
  }
  if (isObj(e.response) && typeof e.response.status === "number") info.httpStatus = e.response.status;
  // google-gax GoogleError: a numeric gRPC code (0–16) plus ErrorInfo's reason; gaxios errors
  // (which carry `config`) use `code` for the HTTP status instead.
  const isGoogleError =
    e.constructor?.name === "GoogleError" || (!("config" in e) && typeof e.code === "number" && e.code >= 0 && e.code <= 16);
  if (isGoogleError) {
    if (typeof e.code === "number" && info.status === undefined) info.status = GRPC_NAMES[e.code];
    if (typeof e.reason === "string") info.reasons.push(e.reason);
    for (const d of Array.isArray(e.statusDetails) ? e.statusDetails : [])
      if (isObj(d) && typeof d.reason === "string") info.reasons.push(d.reason);
  }
  return info.httpStatus === undefined && info.status === undefined && info.reasons.length === 0 ? undefined : info;
}

/** A Compute operation's `error` (`{errors:[{code,message}]}`). */
export const operationErrorInfo = (error: unknown): GcpErrorInfo => ({ reasons: isObj(error) ? reasonsOf(error) : [] });

const CAPACITY = new Set([
  "ZONE_RESOURCE_POOL_EXHAUSTED",
  "ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS",
  "RESOURCE_POOL_EXHAUSTED",
  "STOCKOUT",
  "resourcePoolExhausted",
]);
const QUOTA = new Set([
  "QUOTA_EXCEEDED",
  "quotaExceeded",
  "REGION_QUOTA_EXCEEDED",
  "ZONE_QUOTA_EXCEEDED",
  "GLOBAL_QUOTA_EXCEEDED",
]);
const UNSUPPORTED = new Set(["UNSUPPORTED_OPERATION", "ZONE_NOT_AVAILABLE", "UNSUPPORTED_ACCELERATOR", "invalidMachineType"]);
const THROTTLED = new Set([
  "rateLimitExceeded",
  "userRateLimitExceeded",
  "RESOURCE_OPERATION_RATE_EXCEEDED",
  "backendError",
  "internalError",
]);

/** Reasons and statuses that mean "slow down" (a rate quota), not "no capacity" or "no quota for the resource". */
const RATE_LIMITED = new Set(["rateLimitExceeded", "userRateLimitExceeded", "RATE_LIMIT_EXCEEDED"]);

/** A throttled answer: a rate quota's reason, or HTTP 429 without a capacity or resource-quota reason. */
export function isThrottle(info: GcpErrorInfo | undefined): boolean {
  if (!info) return false;
  if (info.reasons.some((r) => RATE_LIMITED.has(r))) return true;
  if (info.reasons.some((r) => CAPACITY.has(r) || QUOTA.has(r))) return false;
  return info.httpStatus === 429;
}

export type GcpErrorClass =
  | { kind: "refused"; refusal: RefusalKind; code: string }
  | { kind: "retryable"; code: string }
  | { kind: "already-exists" }
  | { kind: "not-found" }
  | { kind: "other"; code: string };

/** What a Google error means for spotrun: a refusal (fail over), a retry, or a real failure. */
export function classifyGcpError(info: GcpErrorInfo | undefined): GcpErrorClass {
  if (!info) return { kind: "other", code: "UNKNOWN" };
  for (const r of info.reasons) {
    if (CAPACITY.has(r)) return { kind: "refused", refusal: "capacity", code: r };
    if (QUOTA.has(r)) return { kind: "refused", refusal: "quota", code: r };
    if (UNSUPPORTED.has(r)) return { kind: "refused", refusal: "unsupported", code: r };
  }
  for (const r of info.reasons) if (THROTTLED.has(r)) return { kind: "retryable", code: r };
  if (info.httpStatus === 409 || info.status === "ALREADY_EXISTS" || info.reasons.includes("alreadyExists"))
    return { kind: "already-exists" };
  if (info.httpStatus === 404 || info.status === "NOT_FOUND" || info.reasons.includes("notFound")) return { kind: "not-found" };
  // TPU capacity shows as RESOURCE_EXHAUSTED without a Compute reason.
  if (info.status === "RESOURCE_EXHAUSTED") return { kind: "refused", refusal: "capacity", code: "RESOURCE_EXHAUSTED" };
  if (
    info.httpStatus === 429 ||
    (info.httpStatus !== undefined && info.httpStatus >= 500) ||
    info.status === "UNAVAILABLE" ||
    info.status === "DEADLINE_EXCEEDED"
  )
    return {
      kind: "retryable",
      code: info.reasons.includes(REQUEST_TIMEOUT) ? REQUEST_TIMEOUT : (info.status ?? String(info.httpStatus)),
    };
  return { kind: "other", code: info.reasons[0] ?? info.status ?? String(info.httpStatus ?? "UNKNOWN") };
}

export const classifyError = (e: unknown): GcpErrorClass => classifyGcpError(gcpErrorInfo(e));

/** The API is not enabled in the project (ErrorInfo SERVICE_DISABLED, or Compute's accessNotConfigured). */
export function isServiceDisabled(e: unknown): boolean {
  const cause = e instanceof Error && e.cause !== undefined ? e.cause : undefined;
  for (const x of [e, cause]) {
    const r = gcpErrorInfo(x)?.reasons ?? [];
    if (r.includes("SERVICE_DISABLED") || r.includes("accessNotConfigured")) return true;
  }
  return false;
}
