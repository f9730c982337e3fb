import type { EC2Client } from "@aws-sdk/client-ec2";
import type { ApiCallMeter, ApiOutcome } from "../api-calls.js";
import type { CallClass } from "../call-budget.js";

/**
 * The call budget as SDK middleware, added once to the EC2 client (never per command): inside the
 * retry loop and before signing, so every attempt (a retry too) waits for its own token, and each
 * answer is reported with the action's name. Throttling is read from the error's code (the EC2
 * error document's `Code`, which the SDK puts in `name`) or an HTTP 429, never from its text.
 */
export const THROTTLING_CODES = new Set([
  "RequestLimitExceeded",
  "Throttling",
  "ThrottlingException",
  "ThrottledException",
  "RequestThrottled",
  "RequestThrottledException",
  "TooManyRequestsException",
  "EC2ThrottledException",
  "SlowDown",
  "PriorRequestNotComplete",
  "BandwidthLimitExceeded",
  "ProvisionedThroughputExceededException",
]);

export function awsOutcome(e: unknown): ApiOutcome {
  const err = e as { name?: unknown; Code?: unknown; $metadata?: { httpStatusCode?: number } } | undefined;
  const code = typeof err?.Code === "string" ? err.Code : typeof err?.name === "string" ? err.name : "";
  return THROTTLING_CODES.has(code) || err?.$metadata?.httpStatusCode === 429 ? "throttled" : "error";
}

/** EC2's non-mutating actions (Describe*, Get*, List*, Search*) draw from the larger bucket. */
export const ec2CallClass = (action: string): CallClass => (/^(Describe|Get|List|Search)/.test(action) ? "read" : "write");

type Stack = EC2Client["middlewareStack"];
type Middleware = Parameters<Stack["addRelativeTo"]>[0];
/** The part of a finalizeRequest middleware this one uses (the SDK's types live in a package we do not depend on). */
type Handler = (args: unknown) => Promise<unknown>;

export const BUDGET_MIDDLEWARE = "spotrunCallBudget";

/** Put the budget on this client's every request; `region` is the client's resolved region (the budget's scope). */
export function addCallBudget(client: EC2Client, meter: ApiCallMeter, region: () => Promise<string>): void {
  const middleware =
    (next: Handler, context: { commandName?: string }): Handler =>
    async (args) => {
      const action = String(context.commandName ?? "Unknown").replace(/Command$/, "");
      const scope = await region().catch(() => "unknown");
      return meter.run(scope, action, ec2CallClass(action), () => next(args), awsOutcome);
    };
  client.middlewareStack.addRelativeTo(middleware as unknown as Middleware, {
    name: BUDGET_MIDDLEWARE,
    relation: "before",
    toMiddleware: "httpSigningMiddleware",
    override: true,
  });
}
