import assert from "node:assert/strict";
import { test } from "node:test";
import {
  describeError,
  ERROR_CODES,
  ExternalError,
  errorLine,
  isBug,
  isRetryable,
  isUserError,
  notFound,
  SpotrunError,
  usageError,
} from "../../../src/base/errors.js";
import { ProviderError } from "../../../src/providers/provider.js";

test("errors are classified by type: the user's fault, retryable, or a bug", () => {
  const usage = usageError("bad flag", "fix it");
  const throttled = new ProviderError("aws", "RequestLimitExceeded", "aws DescribeInstances failed: slow down", true);
  const denied = new ProviderError("aws", "UnauthorizedOperation", "aws RunInstances failed: no", false);
  const bug = new TypeError("x is undefined");
  assert.ok(isUserError(usage) && isUserError(notFound("no job")));
  assert.ok(!isUserError(throttled) && !isUserError(bug));
  assert.ok(isRetryable(throttled) && !isRetryable(denied) && !isRetryable(usage));
  assert.ok(isRetryable(new SpotrunError("failed", "store busy", { retryable: true })));
  assert.ok(isBug(bug) && !isBug(usage) && !isBug(denied));
  assert.ok(throttled instanceof ExternalError, "provider errors are external errors");
});

test("each kind has a stable code, an exit code and always a fix", () => {
  const cases: [unknown, string, number][] = [
    [usageError("bad flag"), "usage", 2],
    [notFound("no job j-1"), "not_found", 3],
    [new SpotrunError("provider_refused", "no capacity"), "provider_refused", 4],
    [new SpotrunError("failed", "upload failed"), "failed", 1],
    [new SpotrunError("interrupted", "interrupted"), "interrupted", 5],
    [new ProviderError("gcp", "rateLimitExceeded", "gcp list failed", true), "retryable", 1],
    [new ProviderError("vast", "http_400", "vast said no", false), "provider_error", 1],
    [new RangeError("Invalid array length"), "internal", 1],
  ];
  for (const [e, code, exit] of cases) {
    const r = describeError(e);
    assert.equal(r.code, code);
    assert.equal(r.exit_code, exit);
    assert.ok(r.fix.length > 0, `${code} has a fix`);
    assert.ok(code in ERROR_CODES, `${code} is listed`);
  }
  assert.equal(describeError(cases[5]?.[0]).cause_code, "rateLimitExceeded");
  assert.match(describeError(cases[7]?.[0]).fix, /report it as a bug/);
});

test("a newline in what went wrong is shown escaped, so the error stays one line", () => {
  const r = describeError(usageError("no job j-1\nrm -rf /", "list jobs\r\nwith status"));
  assert.equal(errorLine(r), "no job j-1\\nrm -rf / — list jobs\\r\\nwith status");
  assert.doesNotMatch(JSON.stringify(r), /\n/);
});
