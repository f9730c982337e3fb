import { ProviderError, type RefusalKind } from "../provider.js";

/**
 * AWS errors by their error code (the `Code` of the EC2 error document, which the SDK puts in
 * `name`): a refusal kind that drives fallback and failover, or a typed ProviderError.
 */
const REFUSALS: Record<string, RefusalKind> = {
  InsufficientInstanceCapacity: "capacity",
  InsufficientHostCapacity: "capacity",
  InsufficientCapacity: "capacity",
  UnfulfillableCapacity: "capacity",
  InsufficientReservedInstanceCapacity: "capacity",
  SpotMaxPriceTooLow: "price",
  MaxSpotInstanceCountExceeded: "quota",
  InstanceLimitExceeded: "quota",
  VcpuLimitExceeded: "quota",
  Unsupported: "unsupported",
  UnsupportedOperation: "unsupported",
};

export const refusalOf = (code: string): RefusalKind | undefined => REFUSALS[code];

/** Codes the SDK retried until it gave up: still retryable for the caller's own loop. */
const RETRYABLE = new Set([
  "RequestLimitExceeded",
  "Throttling",
  "ThrottlingException",
  "InternalError",
  "ServiceUnavailable",
  "Unavailable",
  "TimeoutError",
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
]);

export interface AwsErrorFacts {
  code: string;
  status: number | undefined;
  message: string;
}

/** Reads the structured fields of an SDK exception; non-AWS errors (network) get their Node code. */
export function awsErrorFacts(e: unknown): AwsErrorFacts {
  const err = e as { name?: string; Code?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const code = err?.Code ?? (err?.$metadata ? err.name : undefined) ?? err?.code ?? err?.name ?? "Unknown";
  const message = String(err?.message ?? e).split("\n")[0] as string;
  return { code, status: err?.$metadata?.httpStatusCode, message };
}

export function toProviderError(e: unknown, operation: string): ProviderError {
  if (e instanceof ProviderError) return e;
  const f = awsErrorFacts(e);
  const retryable = RETRYABLE.has(f.code) || (f.status !== undefined && f.status >= 500);
  return new ProviderError("aws", f.code, `aws ${operation} failed: ${f.code}: ${f.message}`, retryable, { cause: e });
}
