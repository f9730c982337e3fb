import assert from "node:assert/strict";
import { test } from "node:test";
import { type MarketMemory, remember, residualMs, spotShare } from "../../../src/placement/policies/adaptive.js";
import {
  decide,
  initialPolicyState,
  type Observation,
  type PolicyState,
  parsePolicyState,
} from "../../../src/placement/policy.js";
import { HOUR } from "./synthetic.js";

/** A 10 h job due at 12 h (the line runs from the start), overhead 12 min, ticks of 10 min, K = 3. */
const obs = (o: Partial<Observation>): Observation => ({
  nowMs: 0,
  startMs: 0,
  deadlineMs: 12 * HOUR,
  workTotalMs: 10 * HOUR,
  workDoneMs: 0,
  restartOverheadMs: HOUR / 5,
  spotAvailable: false,
  current: "none",
  currentSinceMs: 0,
  stepMs: HOUR / 6,
  ...o,
});
const MIN = 60_000;
const withMarket = (market: MarketMemory, extra: Partial<PolicyState> = {}): PolicyState => ({
  ...initialPolicyState("adaptive", { priceRatio: 3 }),
  line: { atMs: 0, workDoneMs: 0 },
  market,
  ...extra,
});

test("the market memory records each run when it ends; the residual life averages the runs that outlived the age", () => {
  let m = remember(undefined, obs({ spotAvailable: true }));
  assert.deepEqual(m, { up: true, sinceMs: 0, upRunsMs: [], downRunsMs: [] });
  m = remember(m, obs({ nowMs: HOUR, spotAvailable: true }));
  m = remember(m, obs({ nowMs: 3 * HOUR, spotAvailable: false }));
  m = remember(m, obs({ nowMs: 3.5 * HOUR, spotAvailable: true }));
  assert.deepEqual(m, { up: true, sinceMs: 3.5 * HOUR, upRunsMs: [3 * HOUR], downRunsMs: [HOUR / 2] });
  // With no run seen: the prior, one run of 2 h. Runs of 1 h and 5 h at age 2 h: (2 h prior + 3 h) / 2.
  assert.equal(residualMs([], 0), 2 * HOUR);
  assert.equal(residualMs([HOUR, 5 * HOUR], 2 * HOUR), 2.5 * HOUR);
});

test("from on-demand it takes only a spot whose expected life pays back 3Kd/(K−1); from idle any that outlasts a restart", () => {
  // K = 3, d = 12 min: from on-demand a spot must be expected to last 54 min.
  const blips: MarketMemory = { up: true, sinceMs: 2 * HOUR, upRunsMs: Array(8).fill(10 * MIN), downRunsMs: [] };
  const onDemand = { nowMs: 2 * HOUR, workDoneMs: 1.5 * HOUR, spotAvailable: true, current: "on_demand" as const };
  const stay = decide(obs(onDemand), withMarket(blips));
  assert.equal(stay.choice, "on_demand");
  const long: MarketMemory = { ...blips, upRunsMs: Array(8).fill(3 * HOUR) };
  assert.deepEqual(
    [decide(obs(onDemand), withMarket(long)).choice, decide(obs(onDemand), withMarket(long)).rule],
    ["spot", "take-spot"],
  );
  // Idle, the bar is one overhead: (2 h prior + 8 × 10 min) / 9 ≈ 22 min ≥ 12 min.
  assert.equal(decide(obs({ ...onDemand, current: "none" }), withMarket(blips)).rule, "take-spot");
});

test("it waits out a down-time expected to end within the slack above its reserve, and not a long one", () => {
  // 20 h due at 30 h: 10 h of slack; down-runs of 20 min seen, the current one 10 min old.
  const o = obs({ nowMs: 4 * HOUR, workDoneMs: 2 * HOUR, deadlineMs: 30 * HOUR, workTotalMs: 20 * HOUR });
  const short: MarketMemory = { up: false, sinceMs: 4 * HOUR - 10 * MIN, upRunsMs: [HOUR], downRunsMs: Array(6).fill(20 * MIN) };
  assert.deepEqual([decide(o, withMarket(short)).choice, decide(o, withMarket(short)).rule], ["idle", "wait-for-spot"]);
  // Slack 1.5 h at 12 h due, behind the line: down-runs of 4 h are not waited for.
  const tight = obs({ nowMs: 4 * HOUR, workDoneMs: 2.5 * HOUR });
  const long: MarketMemory = { ...short, downRunsMs: Array(6).fill(4 * HOUR) };
  assert.deepEqual([decide(tight, withMarket(long)).choice, decide(tight, withMarket(long)).rule], ["on_demand", "behind-line"]);
});

test("its restart reserve counts only the preemptions of the work spot will do, and a wait pays the restart that ends it", () => {
  assert.equal(spotShare({ up: false, sinceMs: 0, upRunsMs: [], downRunsMs: [] }), 0.5);
  assert.equal(spotShare({ up: false, sinceMs: 0, upRunsMs: [4 * HOUR], downRunsMs: [2 * HOUR] }), 0.6);
  // Spot up in runs of 1 h, down in runs of 6 h (share (2 + 4) / 32 h), this down-time 5 h 50 min
  // old: its rest is expected in (2 h prior + 4 × 10 min) / 5 = 32 min. 20 h of work left: 0.1875 ×
  // 20 h / 1.2 h ≈ 3.1 preemptions, a reserve of 37.5 min (counting all the work left: 100 min).
  const market: MarketMemory = {
    up: false,
    sinceMs: 0,
    upRunsMs: Array(4).fill(HOUR),
    downRunsMs: Array(4).fill(6 * HOUR),
  };
  const at = (nowMs: number) =>
    obs({ nowMs, workDoneMs: 10 * HOUR, deadlineMs: 40 * HOUR, workTotalMs: 30 * HOUR, stepMs: HOUR / 6 });
  const m = { ...market, sinceMs: 18.5 * HOUR - (5 * HOUR + 50 * MIN) };
  // 90 min of slack: 32 + 12 + 37.5 fits, so it waits.
  assert.deepEqual(
    [decide(at(18.5 * HOUR), withMarket(m)).choice, decide(at(18.5 * HOUR), withMarket(m)).rule],
    ["idle", "wait-for-spot"],
  );
  // 75 min: 32 + 37.5 would fit, but not with the 12 min restart when spot comes back.
  const later = { ...market, sinceMs: 18.75 * HOUR - (5 * HOUR + 50 * MIN) };
  assert.deepEqual(
    [decide(at(18.75 * HOUR), withMarket(later)).choice, decide(at(18.75 * HOUR), withMarket(later)).rule],
    ["on_demand", "behind-line"],
  );
});

test("once on on-demand without spot it holds until 8 h of the line ahead, not 2d", () => {
  const m: MarketMemory = { up: false, sinceMs: 0, upRunsMs: [], downRunsMs: Array(6).fill(10 * HOUR) };
  // Line 10/12 h per hour; at 2 h it expects 1.67 h, at 10 h 8.33 h.
  const ahead = obs({ nowMs: 2 * HOUR, workDoneMs: 3 * HOUR, current: "on_demand" });
  assert.deepEqual([decide(ahead, withMarket(m)).choice, decide(ahead, withMarket(m)).rule], ["on_demand", "hold-on-demand"]);
  const far = obs({ nowMs: 2 * HOUR, workDoneMs: 8.4 * HOUR, current: "on_demand", deadlineMs: 12 * HOUR });
  assert.equal(decide(far, withMarket(m)).choice, "idle");
});

test("its state, market memory included, survives a JSON round trip and a bad one is refused", () => {
  const d = decide(obs({ spotAvailable: true }), initialPolicyState("adaptive"));
  const d2 = decide(obs({ nowMs: HOUR / 6, spotAvailable: false, current: "spot" }), d.state);
  const back = parsePolicyState(JSON.parse(JSON.stringify(d2.state)));
  assert.deepEqual(back, d2.state);
  assert.deepEqual(back.market, { up: false, sinceMs: HOUR / 6, upRunsMs: [HOUR / 6], downRunsMs: [] });
  assert.throws(() => parsePolicyState({ ...back, market: { up: true, sinceMs: 0, upRunsMs: ["x"] } }), /not a market memory/);
});
