import type { ProviderKind } from "../spec/task-schema.js";
import type { ApiOutcomeKind, CallBudget, CallClass } from "./call-budget.js";

/** One request a provider sent to its cloud (one attempt: a retried call is several). */
export interface ApiCall {
  provider: ProviderKind;
  /** The budget's scope: an AWS region, `global` for a GCP project or a Vast account, `local`. */
  region: string;
  /** The API's own name for it: `DescribeInstances`, `instances.aggregatedList`, `GET /instances`. */
  action: string;
  outcome: ApiOutcome;
  /** How long the request took, from send to answer (not the wait for a token). */
  ms: number;
  /** How long it waited for a token before it was sent. */
  waitedMs: number;
}
export type ApiOutcome = ApiOutcomeKind;
export type ApiCallListener = (call: ApiCall) => void;

export type OutcomeCounts = Record<ApiOutcome, number>;

/** Totals of one provider's calls since it was made: all of them, and by action and outcome. */
export interface ApiCallCounts {
  total: number;
  ok: number;
  throttled: number;
  error: number;
  byAction: Record<string, OutcomeCounts>;
}

const zero = (): OutcomeCounts => ({ ok: 0, throttled: 0, error: 0 });

/**
 * A provider's side of the budget: it takes the token before each request, reports each answer
 * back to the shared budget (which adjusts the rate), counts, and tells its listeners.
 */
export class ApiCallMeter {
  private readonly listeners = new Set<ApiCallListener>();
  private readonly totals: OutcomeCounts = zero();
  private readonly byAction = new Map<string, OutcomeCounts>();

  constructor(
    readonly provider: ProviderKind,
    readonly budget: CallBudget,
    listener?: ApiCallListener,
  ) {
    if (listener) this.listeners.add(listener);
  }

  /** Wait for a token of this class in this region; resolves to the function that records this request's answer. */
  async start(region: string, action: string, cls: CallClass): Promise<(outcome: ApiOutcome) => void> {
    const asked = this.budget.now();
    await this.budget.scope(this.provider, region).acquire(cls);
    const sent = this.budget.now();
    return (outcome) => this.record({ region, action, outcome, ms: this.budget.now() - sent, waitedMs: sent - asked });
  }

  /** One answer: counted, fed back to the budget, and passed to every listener (a listener that throws is ignored). */
  record(call: Omit<ApiCall, "provider">): void {
    const full: ApiCall = { provider: this.provider, ...call };
    this.totals[call.outcome]++;
    let per = this.byAction.get(call.action);
    if (!per) {
      per = zero();
      this.byAction.set(call.action, per);
    }
    per[call.outcome]++;
    this.budget.scope(this.provider, call.region).feedback(call.outcome);
    for (const l of this.listeners) {
      try {
        l(full);
      } catch {
        // Metrics must never break a cloud call.
      }
    }
  }

  /** Run one request under the budget: wait for a token, send, record the answer by `outcomeOf` (an error's code, never its text). */
  async run<T>(
    region: string,
    action: string,
    cls: CallClass,
    send: () => Promise<T>,
    outcomeOf: (e: unknown) => ApiOutcome,
  ): Promise<T> {
    const done = await this.start(region, action, cls);
    try {
      const out = await send();
      done("ok");
      return out;
    } catch (e) {
      done(outcomeOf(e));
      throw e;
    }
  }

  onApiCall(listener: ApiCallListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  counts(): ApiCallCounts {
    const byAction: Record<string, OutcomeCounts> = {};
    for (const [a, c] of [...this.byAction.entries()].sort(([x], [y]) => (x < y ? -1 : 1))) byAction[a] = { ...c };
    const t = this.totals;
    return { total: t.ok + t.throttled + t.error, ok: t.ok, throttled: t.throttled, error: t.error, byAction };
  }
}
