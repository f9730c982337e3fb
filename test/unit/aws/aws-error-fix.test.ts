import assert from "node:assert/strict";
import { test } from "node:test";
import { SpotrunError } from "../../../src/base/errors.js";
import { asUserError } from "../../../src/cli/commands/launch-actions.js";
import { toProviderError } from "../../../src/providers/aws/aws-error.js";
import { ProviderError } from "../../../src/providers/provider.js";

/** What the SDK throws for a service error: a name and the response's metadata. */
const sdkError = (name: string, status: number) =>
  Object.assign(new Error(`${name} happened`), { name, $metadata: { httpStatusCode: status } });

test("an AWS error carries the fix for its code, and the CLI's one line shows it", () => {
  const denied = toProviderError(sdkError("UnauthorizedOperation", 403), "RunInstances");
  assert.ok(denied instanceof ProviderError);
  assert.equal(denied.fix, "grant the permissions in docs/aws/iam-policy.json to these credentials");
  const line = asUserError(denied);
  assert.ok(line instanceof SpotrunError);
  assert.equal(line.fix, denied.fix);
  assert.equal(line.code, "UnauthorizedOperation");

  const throttled = toProviderError(sdkError("RequestLimitExceeded", 503), "DescribeInstances") as ProviderError;
  assert.equal(throttled.retryable, true);
  assert.equal((asUserError(throttled) as SpotrunError).fix, "AWS is throttling or unavailable; retry in a minute");
});

test("a provider error without a fix of its own gets the generic one", () => {
  const plain = new ProviderError("vast", "no_offers", "nothing to rent", false);
  assert.equal((asUserError(plain) as SpotrunError).fix, "see the provider's error code");
  const again = new ProviderError("gcp", "UNAVAILABLE", "try later", true);
  assert.equal((asUserError(again) as SpotrunError).fix, "retry in a minute");
});
