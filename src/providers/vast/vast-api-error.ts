import { ProviderError } from "../provider.js";

/**
 * A failed Vast API call: the HTTP status and the server's own `error` code and `msg`. The code is
 * the server's `error` field when it sends one (`no_such_ask`, `insufficient_credit`, …), otherwise
 * `http_<status>`; `network` when no response came back. 429 and 5xx are retryable.
 */
export class VastApiError extends ProviderError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
    readonly serverMsg: string | undefined,
    options?: { cause?: unknown },
  ) {
    super("vast", code, message, status === 0 || status === 429 || status >= 500, options);
    this.name = "VastApiError";
  }
}

/** Replace every occurrence of the key (raw and URL-encoded) so it can never reach a log or a terminal. */
export function redact(text: string, secret: string | undefined): string {
  if (!secret) return text;
  let out = text;
  for (const form of new Set([secret, encodeURIComponent(secret)])) out = out.split(form).join("***");
  return out;
}
