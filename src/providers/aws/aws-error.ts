import { SpotrunError } from "../../base/errors.js";
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

/** Errors the SDK raises before any request: no credentials anywhere in the chain. The user's to fix. */
const NO_CREDENTIALS = new Set(["CredentialsProviderError"]);

/**
 * An SDK failure as what it is: the user's fault (no credentials: exit 2 with the fix), or a
 * ProviderError with its code, retryable or not.
 */
export function toProviderError(e: unknown, operation: string): ProviderError | SpotrunError {
  if (e instanceof ProviderError || e instanceof SpotrunError) return e;
  const f = awsErrorFacts(e);
  if (NO_CREDENTIALS.has(f.code))
    return new SpotrunError("usage", `aws ${operation}: no AWS credentials found (${f.message})`, {
      code: f.code,
      fix: fixForAwsCode(f.code, false),
      cause: e,
    });
  const retryable = RETRYABLE.has(f.code) || (f.status !== undefined && f.status >= 500);
  return new ProviderError("aws", f.code, `aws ${operation} failed: ${f.code}: ${f.message}`, retryable, {
    cause: e,
    fix: fixForAwsCode(f.code, retryable),
  });
}

/** What a person should do about an AWS error code, for the CLI's one line. */
export function fixForAwsCode(code: string, retryable: boolean): string {
  if (retryable) return "AWS is throttling or unavailable; retry in a minute";
  if (/^(UnauthorizedOperation|AccessDenied|AccessDeniedException|OptInRequired|Blocked)$/.test(code))
    return "grant the permissions in docs/aws/iam-policy.json to these credentials";
  if (
    /^(CredentialsProviderError|AuthFailure|InvalidClientTokenId|ExpiredToken|SignatureDoesNotMatch|UnrecognizedClientException)$/.test(
      code,
    )
  )
    return "configure AWS credentials (AWS_PROFILE, `aws configure` or `aws sso login`, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)";
  if (/^InvalidAMIID\./.test(code)) return "check --image: the AMI must exist in this region and be visible to the account";
  if (/^InvalidKeyPair\./.test(code)) return "check --key-name: the key pair must exist in this region";
  if (/^(InvalidGroup|InvalidSubnet|InvalidVpc)/.test(code))
    return "check SPOTRUN_AWS_SECURITY_GROUP_IDS / SPOTRUN_AWS_SUBNET_ID for this region";
  if (code === "IdempotentParameterMismatch")
    return "a launch with this token but other parameters already happened; use a new job";
  return "the AWS error code above says what to change";
}
