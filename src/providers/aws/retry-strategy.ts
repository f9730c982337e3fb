import { type Clock, systemClock } from "../../base/clock.js";
import { backoffWithJitter, type Random } from "../../base/random.js";

/**
 * The SDK's retry strategy (RetryStrategyV2 shape), configured once on the client: throttling
 * (RequestLimitExceeded and the SDK's other throttling codes), transient network errors and
 * 5xx are retried with full-jitter exponential backoff, at most `maxAttempts` tries in all.
 * The SDK classifies each error by its code and status before calling us, never by message.
 * Sleeping goes through the injected clock so tests drive it.
 */
export interface RetryToken {
  getRetryCount(): number;
  getRetryDelay(): number;
}

type ErrorType = "THROTTLING" | "TRANSIENT" | "SERVER_ERROR" | "CLIENT_ERROR";

export interface RetryPolicy {
  maxAttempts: number;
  baseMs: number;
  capMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 6, baseMs: 200, capMs: 10_000 };

class Token implements RetryToken {
  constructor(private readonly count: number) {}
  getRetryCount(): number {
    return this.count;
  }
  /** The wait already happened inside refreshRetryTokenForRetry (on our clock). */
  getRetryDelay(): number {
    return 0;
  }
}

export class JitterRetryStrategy {
  readonly mode = "standard";
  /** Waits taken, for logs and tests. */
  readonly delays: number[] = [];

  constructor(
    private readonly policy: RetryPolicy = DEFAULT_RETRY_POLICY,
    private readonly clock: Clock = systemClock,
    private readonly random: Random = Math.random,
  ) {}

  async acquireInitialRetryToken(_scope: string): Promise<RetryToken> {
    return new Token(0);
  }

  async refreshRetryTokenForRetry(token: RetryToken, errorInfo: { errorType: ErrorType }): Promise<RetryToken> {
    const attempt = token.getRetryCount() + 1;
    if (errorInfo.errorType === "CLIENT_ERROR" || attempt >= this.policy.maxAttempts) throw new Error("no retry token available");
    const base = errorInfo.errorType === "THROTTLING" ? this.policy.baseMs * 2 : this.policy.baseMs;
    // Full jitter, but never zero: a throttled caller that retries at once only adds to the storm.
    const delay = Math.max(1, backoffWithJitter(this.random, attempt, base, this.policy.capMs));
    this.delays.push(delay);
    await this.clock.sleep(delay);
    return new Token(attempt);
  }

  recordSuccess(_token: RetryToken): void {}
}
