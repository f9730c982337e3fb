import assert from "node:assert/strict";
import { test } from "node:test";
import {
  downResidualMs,
  type MarketMemory,
  remember,
  residualMs,
  spotShare,
  switchGainMs,
} from "../../../src/placement/policies/adaptive.js";
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
  // With no run seen: the prior, one run of 1 h. Runs of 1 h and 5 h at age 2 h: (1 h prior + 3 h) / 2.
  assert.equal(residualMs([], 0), HOUR);
  assert.equal(residualMs([HOUR, 5 * HOUR], 2 * HOUR), 2 * HOUR);
  // A down-time's prior is max(2 h, its age): at 10 h, with runs of 20 min and 12 h seen, (10 h + 2 h) / 2.
  assert.equal(downResidualMs([20 * MIN, 12 * HOUR], 0), (2 * HOUR + 20 * MIN + 12 * HOUR) / 3);
  assert.equal(downResidualMs([20 * MIN, 12 * HOUR], 10 * HOUR), 6 * HOUR);
});

test("from on-demand it takes a spot when the switch is expected to pay, each run's lag counted; from idle any that outlasts a restart", () => {
  // K = 3, d = 12 min: a run of rest l gains 2l − 3 × 24 min (l ≥ d), or 2l − 3(l + 12 min) inside the
  // setup. No run seen: the 1 h prior, 120 − 72 = 48 min; with one 5 min blip: (48 − 41) / 2.
  assert.equal(switchGainMs([], 0, 12 * MIN, 3), 48 * MIN);
  assert.equal(switchGainMs([5 * MIN], 0, 12 * MIN, 3), 3.5 * MIN);
  // Runs of 40 min pay (80 − 72 = 8 min each), runs of 30 min do not (60 − 72): the line is at
  // 2Kd/(K−1) = 36 min, below the 3Kd/(K−1) = 54 min the mean had to reach before.
  const onDemand = { nowMs: 2 * HOUR, workDoneMs: 1.5 * HOUR, spotAvailable: true, current: "on_demand" as const };
  const runs = (ms: number): MarketMemory => ({ up: true, sinceMs: 2 * HOUR, upRunsMs: Array(8).fill(ms), downRunsMs: [] });
  const take = decide(obs(onDemand), withMarket(runs(40 * MIN)));
  assert.deepEqual([take.choice, take.rule], ["spot", "take-spot"]);
  assert.equal(decide(obs(onDemand), withMarket(runs(30 * MIN))).choice, "on_demand");
  // Blips of 10 min do no work at all: each costs 3 × 22 min of lag against 20 min saved.
  assert.ok(switchGainMs(Array(8).fill(10 * MIN), 0, 12 * MIN, 3) < 0);
  assert.equal(decide(obs(onDemand), withMarket(runs(10 * MIN))).choice, "on_demand");
  // Idle, the bar is one overhead: (1 h prior + 8 × 10 min) / 9 ≈ 16 min ≥ 12 min.
  assert.equal(decide(obs({ ...onDemand, current: "none" }), withMarket(runs(10 * MIN))).rule, "take-spot");
});

test("a down-time that outlived every run seen is expected to last about as long again, so it is not waited out on a fixed prior", () => {
  // 30 h of work due at 44 h, 6 h done at 12 h: 8 h of slack, behind the line. Up-runs of 2 h, down-runs
  // of 20 min: share (1 + 8) / 12 h, mean up-run 1.8 h, a reserve of 10 overheads = 2 h.
  const o = obs({ nowMs: 12 * HOUR, workDoneMs: 6 * HOUR, deadlineMs: 44 * HOUR, workTotalMs: 30 * HOUR });
  const market = (ageMs: number): MarketMemory => ({
    up: false,
    sinceMs: 12 * HOUR - ageMs,
    upRunsMs: Array(4).fill(2 * HOUR),
    downRunsMs: Array(6).fill(20 * MIN),
  });
  // 1 h old: its rest is the 2 h prior, and 2 h + 12 min fits in the 6 h above the reserve.
  const young = decide(o, withMarket(market(HOUR)));
  assert.deepEqual([young.choice, young.rule], ["idle", "wait-for-spot"]);
  // 10 h old: another 10 h expected (a fixed 2 h prior would still wait), more than the 6 h.
  const old = decide(o, withMarket(market(10 * HOUR)));
  assert.deepEqual([old.choice, old.rule], ["on_demand", "behind-line"]);
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
  assert.equal(spotShare({ up: false, sinceMs: 0, upRunsMs: [4 * HOUR], downRunsMs: [2 * HOUR] }), 0.625);
  // Spot up in runs of 1 h, down in runs of 6 h (share (1 + 4) / 30 h), this down-time 5 h 50 min
  // old: its rest is expected in (5 h 50 min prior + 4 × 10 min) / 5 = 78 min. 20 h of work left:
  // 20 h / 6 / 1 h ≈ 3.3 preemptions, a reserve of 40 min (counting all the work left: 240 min).
  const market: MarketMemory = {
    up: false,
    sinceMs: 0,
    upRunsMs: Array(4).fill(HOUR),
    downRunsMs: Array(4).fill(6 * HOUR),
  };
  const at = (nowMs: number) =>
    obs({ nowMs, workDoneMs: 10 * HOUR, deadlineMs: 40 * HOUR, workTotalMs: 30 * HOUR, stepMs: HOUR / 6 });
  const aged = (nowMs: number) => withMarket({ ...market, sinceMs: nowMs - (5 * HOUR + 50 * MIN) });
  // 135 min of slack: 78 + 12 + 40 fits, so it waits.
  const wait = decide(at(17.75 * HOUR), aged(17.75 * HOUR));
  assert.deepEqual([wait.choice, wait.rule], ["idle", "wait-for-spot"]);
  // 120 min: 78 + 40 would fit, but not with the 12 min restart when spot comes back.
  const go = decide(at(18 * HOUR), aged(18 * HOUR));
  assert.deepEqual([go.choice, go.rule], ["on_demand", "behind-line"]);
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
