import { type Clock, systemClock } from "../base/clock.js";
import { usageError } from "../base/errors.js";
import type { ProviderKind } from "../spec/task-schema.js";

/**
 * Cloud calls are a budget. One token bucket per (provider, region) and class of call, shared by
 * every caller in the process (all the controller's jobs), keeps spotrun's own calls under a share
 * of the account's documented limits, so what else the user runs in that account still gets its
 * calls through. A throttled answer halves the rate of the whole provider and region (AIMD: every
 * job slows together, not one), and each answer that is not throttled creeps it back.
 *
 * `acquire` waits its turn (first come, first served) on the injected clock; it never fails and
 * never spins. A caller that has waited `maxWaitMs` goes ahead on credit (the bucket goes below
 * zero, so the ones behind it wait longer): a call is slowed, never refused, and never stuck.
 */

/** Describe/List/Get (non-mutating) or a call that changes something (mutating: run, terminate, create). */
export type CallClass = "read" | "write";

export interface BucketLimit {
  /** Tokens a full bucket holds: the burst. */
  capacity: number;
  /** Tokens added per second: the sustained rate. */
  refillPerSec: number;
}

export type ProviderLimits = Record<CallClass, BucketLimit>;

/**
 * The accounts' own limits, before the share is applied.
 * - AWS: EC2 throttles per account and region with token buckets: non-mutating actions 100 tokens
 *   refilled at 20/s, mutating actions 50 at 5/s ("Request throttling for the Amazon EC2 API").
 * - GCP: Compute Engine rate quotas are per project and minute, 1,500 reads and 1,500 writes a
 *   minute by default (25/s); Google refills at the minute, so the burst is kept small here.
 * - Vast.ai publishes no limits; its own CLI backs off on 429 from 0.15 s. These are modest guesses,
 *   and AIMD finds the real limit from the 429s.
 * - local: no cloud behind it; counted, practically unlimited.
 */
export const ACCOUNT_LIMITS: Record<ProviderKind, ProviderLimits> = {
  aws: { read: { capacity: 100, refillPerSec: 20 }, write: { capacity: 50, refillPerSec: 5 } },
  gcp: { read: { capacity: 100, refillPerSec: 25 }, write: { capacity: 50, refillPerSec: 25 } },
  vast: { read: { capacity: 40, refillPerSec: 10 }, write: { capacity: 20, refillPerSec: 5 } },
  local: { read: { capacity: 10_000, refillPerSec: 10_000 }, write: { capacity: 10_000, refillPerSec: 10_000 } },
};

export const API_SHARE_ENV = "SPOTRUN_API_SHARE";
export const DEFAULT_API_SHARE = 0.5;

/** `SPOTRUN_API_SHARE`: the fraction of the account's limits spotrun may use, in (0, 1]. */
export function parseApiShare(raw: string | undefined): number {
  if (raw === undefined || raw.trim() === "") return DEFAULT_API_SHARE;
  const n = Number(raw.trim());
  if (!Number.isFinite(n) || n <= 0 || n > 1)
    throw usageError(
      `${API_SHARE_ENV}=${JSON.stringify(raw)} is not a share of the account's API limits`,
      `give a number above 0 and at most 1, such as ${DEFAULT_API_SHARE} (spotrun then uses at most half of them)`,
      "bad_api_share",
    );
  return n;
}

export interface CallBudgetOptions {
  clock?: Clock;
  /** Share of the account limits; default from SPOTRUN_API_SHARE, else 0.5. */
  share?: number;
  /** Per-provider limits in place of ACCOUNT_LIMITS (tests, or an account with raised limits). */
  limits?: Partial<Record<ProviderKind, ProviderLimits>>;
  /** Longest a caller waits before it goes ahead on credit (default 30 s). */
  maxWaitMs?: number;
  /** Smallest fraction of the rate AIMD may cut to (default 1/16). */
  minFactor?: number;
  /** Added to the rate factor per answer that was not throttled (default 0.01: 50 answers from half to full). */
  increasePerOk?: number;
  /** A burst of throttled answers (calls in flight together) halves the rate once per this long (default 1 s). */
  cutCooldownMs?: number;
}

/** One token, less what floating-point refills lose (0.1 s × 10/s is not always exactly 1). */
const WHOLE = 1 - 1e-9;

interface Waiter {
  since: number;
  resolve: () => void;
}

interface Lane {
  limit: BucketLimit;
  tokens: number;
  at: number;
  queue: Waiter[];
  pumping: boolean;
}

/** The bucket pair and AIMD state of one provider and region. */
export class RateScope {
  private factor = 1;
  private lastCut = Number.NEGATIVE_INFINITY;
  private readonly lanes: Record<CallClass, Lane>;

  constructor(
    readonly provider: ProviderKind,
    readonly region: string,
    limits: ProviderLimits,
    private readonly share: number,
    private readonly budget: CallBudget,
  ) {
    const now = budget.now();
    const lane = (l: BucketLimit): Lane => ({ limit: l, tokens: l.capacity * share, at: now, queue: [], pumping: false });
    this.lanes = { read: lane(limits.read), write: lane(limits.write) };
  }

  /** Tokens per second this class may use now (after the share and AIMD). */
  rate(cls: CallClass): number {
    return this.lanes[cls].limit.refillPerSec * this.share * this.factor;
  }

  capacity(cls: CallClass): number {
    return this.lanes[cls].limit.capacity * this.share;
  }

  /** Tokens in the bucket now (negative while callers that waited too long are paid back). */
  tokens(cls: CallClass): number {
    const lane = this.lanes[cls];
    this.refill(lane, this.budget.now());
    return lane.tokens;
  }

  /** The AIMD multiplier on the rate, in [minFactor, 1]. */
  rateFactor(): number {
    return this.factor;
  }

  /** Callers waiting for a token of this class. */
  waiting(cls: CallClass): number {
    return this.lanes[cls].queue.length;
  }

  /** Resolves when this caller may send one request of `cls`; callers are served in the order they asked. */
  acquire(cls: CallClass): Promise<void> {
    const lane = this.lanes[cls];
    const now = this.budget.now();
    this.refill(lane, now);
    if (lane.queue.length === 0 && lane.tokens >= WHOLE) {
      lane.tokens -= 1;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      lane.queue.push({ since: now, resolve });
      void this.pump(lane);
    });
  }

  /** What the cloud answered: a throttle halves the rate (once per burst), anything else creeps it back. */
  feedback(outcome: ApiOutcomeKind): void {
    const o = this.budget.options;
    if (outcome === "throttled") {
      const now = this.budget.now();
      if (now - this.lastCut < o.cutCooldownMs) return;
      this.lastCut = now;
      for (const lane of Object.values(this.lanes)) {
        this.refill(lane, now);
        // The account's bucket is empty: what ours still holds would only be throttled too.
        lane.tokens = Math.min(lane.tokens, 0);
      }
      this.factor = Math.max(o.minFactor, this.factor / 2);
    } else if (outcome === "ok") this.factor = Math.min(1, this.factor + o.increasePerOk);
  }

  private refill(lane: Lane, now: number): void {
    if (now <= lane.at) return;
    const cap = lane.limit.capacity * this.share;
    lane.tokens = Math.min(cap, lane.tokens + ((now - lane.at) / 1000) * lane.limit.refillPerSec * this.share * this.factor);
    lane.at = now;
  }

  /** One loop per lane hands out tokens to the head of the queue, sleeping until the next is due. */
  private async pump(lane: Lane): Promise<void> {
    if (lane.pumping) return;
    lane.pumping = true;
    const maxWait = this.budget.options.maxWaitMs;
    try {
      for (;;) {
        const head = lane.queue[0];
        if (!head) return;
        const now = this.budget.now();
        this.refill(lane, now);
        if (lane.tokens >= WHOLE || now - head.since >= maxWait) {
          lane.tokens -= 1;
          lane.queue.shift();
          head.resolve();
          continue;
        }
        const rate = lane.limit.refillPerSec * this.share * this.factor;
        const due = ((1 - lane.tokens) / rate) * 1000;
        const wait = Math.max(1, Math.ceil(Math.min(due, head.since + maxWait - now)));
        await this.budget.sleep(wait);
      }
    } finally {
      lane.pumping = false;
    }
  }
}

export type ApiOutcomeKind = "ok" | "throttled" | "error";

type ResolvedOptions = Required<Omit<CallBudgetOptions, "clock" | "share" | "limits">>;

/** Every (provider, region) scope of one process. */
export class CallBudget {
  readonly share: number;
  readonly options: ResolvedOptions;
  private readonly clock: Clock;
  private readonly limits: Record<ProviderKind, ProviderLimits>;
  private readonly scopes = new Map<string, RateScope>();
  /** Time as the budget sees it: never behind the clock, and moved on by each of its own sleeps (so a clock whose sleeps return at once cannot make it spin). */
  private t: number;

  constructor(opts: CallBudgetOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    this.share = parseApiShare(opts.share !== undefined ? String(opts.share) : process.env[API_SHARE_ENV]);
    this.limits = { ...ACCOUNT_LIMITS, ...opts.limits };
    this.options = {
      maxWaitMs: opts.maxWaitMs ?? 30_000,
      minFactor: opts.minFactor ?? 1 / 16,
      increasePerOk: opts.increasePerOk ?? 0.01,
      cutCooldownMs: opts.cutCooldownMs ?? 1000,
    };
    this.t = this.clock.now();
  }

  scope(provider: ProviderKind, region: string): RateScope {
    const key = `${provider}\u0000${region}`;
    let s = this.scopes.get(key);
    if (!s) {
      s = new RateScope(provider, region, this.limits[provider], this.share, this);
      this.scopes.set(key, s);
    }
    return s;
  }

  now(): number {
    this.t = Math.max(this.t, this.clock.now());
    return this.t;
  }

  async sleep(ms: number): Promise<void> {
    const start = this.now();
    await this.clock.sleep(ms);
    this.t = Math.max(this.t, start + ms, this.clock.now());
  }
}

let processBudget: CallBudget | undefined;

/** The budget every provider of this process shares unless it is handed its own (tests do). */
export function processCallBudget(): CallBudget {
  processBudget ??= new CallBudget();
  return processBudget;
}
