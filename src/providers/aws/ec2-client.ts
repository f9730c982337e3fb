import { EC2Client } from "@aws-sdk/client-ec2";
import type { Clock } from "../../base/clock.js";
import type { Random } from "../../base/random.js";
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
}

export function createEc2Client(opts: Ec2ClientOptions = {}): EC2Client {
  const policy = opts.retry ?? DEFAULT_RETRY_POLICY;
  return new EC2Client({
    ...(opts.region ? { region: opts.region } : {}),
    maxAttempts: policy.maxAttempts,
    retryStrategy: new JitterRetryStrategy(policy, opts.clock, opts.random),
  });
}
