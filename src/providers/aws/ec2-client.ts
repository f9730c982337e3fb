import { EC2Client } from "@aws-sdk/client-ec2";
import type { Clock } from "../../base/clock.js";
import type { Random } from "../../base/random.js";
import type { ApiCallMeter } from "../api-calls.js";
import { addCallBudget } from "./budget-middleware.js";
import { DEFAULT_RETRY_POLICY, JitterRetryStrategy, type RetryPolicy } from "./retry-strategy.js";

/**
 * An EC2 client on the standard AWS chain: credentials (env, profiles, SSO, instance role),
 * region (AWS_REGION or the profile) and endpoint (the SDK itself honours AWS_ENDPOINT_URL_EC2
 * and AWS_ENDPOINT_URL, and `endpoint_url` in profiles), with our bounded jittered retries.
 */
export interface Ec2ClientOptions {
  region?: string;
  clock?: Clock;
  random?: Random;
  retry?: RetryPolicy;
  /** A request with no answer for this long is abandoned and retried (TimeoutError is transient). */
  requestTimeoutMs?: number;
  /** Every attempt waits for a token of the call budget and reports its answer (see budget-middleware.ts). */
  meter?: ApiCallMeter;
}

/** EC2 answers within seconds; a call silent for this long is stuck, not slow. */
export const EC2_REQUEST_TIMEOUT_MS = 30_000;
export const EC2_CONNECT_TIMEOUT_MS = 5_000;

export function createEc2Client(opts: Ec2ClientOptions = {}): EC2Client {
  const policy = opts.retry ?? DEFAULT_RETRY_POLICY;
  const requestTimeout = opts.requestTimeoutMs ?? EC2_REQUEST_TIMEOUT_MS;
  const client = new EC2Client({
    ...(opts.region ? { region: opts.region } : {}),
    maxAttempts: policy.maxAttempts,
    retryStrategy: new JitterRetryStrategy(policy, opts.clock, opts.random),
    requestHandler: awsRequestHandler(requestTimeout),
  });
  if (opts.meter) addCallBudget(client, opts.meter, () => client.config.region());
  return client;
}

/** The time limits of an AWS control-plane client (EC2, Pricing): a call silent this long fails as TimeoutError, which is retried. */
export function awsRequestHandler(requestTimeout = EC2_REQUEST_TIMEOUT_MS) {
  return {
    requestTimeout,
    // Without it the SDK only logs a warning when the timeout passes, and waits on.
    throwOnRequestTimeout: true,
    connectionTimeout: Math.min(requestTimeout, EC2_CONNECT_TIMEOUT_MS),
  };
}

/** An estimate is not a decision: one retry at most, so a throttled price lookup does not hold up what follows. */
export const QUICK_RETRY_POLICY: RetryPolicy = { ...DEFAULT_RETRY_POLICY, maxAttempts: 2 };
