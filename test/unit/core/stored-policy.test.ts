import assert from "node:assert/strict";
import { test } from "node:test";
import {
  deadlinePolicyJson,
  deadlineStateOf,
  failoverPolicyJson,
  failoverStateOf,
  parseStoredPolicy,
  StoredPolicyError,
} from "../../../src/core/stored-policy.js";
import type { Offer } from "../../../src/providers/provider.js";

const offer: Offer = {
  provider: "aws",
  id: "o1",
  instanceType: "m5.large",
  zone: "us-east-1a",
  spot: true,
  pricePerHour: 0.03,
  onDemandPricePerHour: 0.096,
};
const walk = { history: [{ kind: "refused" as const, atMs: 5, offer, refusal: "capacity" as const }], pending: offer };
const policy = { policy: "ross" as const, lockedOnDemand: false, random: { seed: 7, state: 9 }, priceRatio: 3 };
const decided = { tick: 4, choice: "idle" as const, rule: "wait-for-spot" };

test("an untagged failover walk (rows written before the tag) reads back as kind failover", () => {
  const old = JSON.stringify(walk);
  assert.deepEqual(parseStoredPolicy(old), { kind: "failover", ...walk });
  assert.deepEqual(failoverStateOf(old), walk);
});

test("an untagged deadline policy state reads back as kind deadline", () => {
  const old = JSON.stringify(policy);
  assert.deepEqual(parseStoredPolicy(old), { kind: "deadline", ...policy });
  assert.deepEqual(deadlineStateOf(old), { state: policy, decided: undefined });
});

test("an untagged ticked-market state with its decision reads back as kind deadline_tick", () => {
  const old = JSON.stringify({ ...policy, decided });
  assert.deepEqual(parseStoredPolicy(old), { kind: "deadline_tick", ...policy, decided });
  assert.deepEqual(deadlineStateOf(old), { state: policy, decided });
});

test("what is written is tagged and reads back the same", () => {
  assert.equal(JSON.parse(failoverPolicyJson(walk)).kind, "failover");
  assert.deepEqual(failoverStateOf(failoverPolicyJson(walk)), walk);
  assert.equal(JSON.parse(deadlinePolicyJson(policy)).kind, "deadline");
  assert.deepEqual(deadlineStateOf(deadlinePolicyJson(policy)), { state: policy, decided: undefined });
  assert.equal(JSON.parse(deadlinePolicyJson(policy, decided)).kind, "deadline_tick");
  assert.deepEqual(deadlineStateOf(deadlinePolicyJson(policy, decided)), { state: policy, decided });
  // A state read back and written again does not carry the old tag or decision along.
  const again = deadlinePolicyJson(deadlineStateOf(deadlinePolicyJson(policy, decided))?.state ?? policy);
  assert.deepEqual(JSON.parse(again), { kind: "deadline", ...policy });
});

test("an empty column is no state: a fresh walk, no deadline state", () => {
  assert.equal(parseStoredPolicy(null), undefined);
  assert.deepEqual(failoverStateOf(null), { history: [] });
  assert.equal(deadlineStateOf(null), undefined);
});

test("a malformed value is a StoredPolicyError naming the job, not a crash", () => {
  const bad = (json: string, re: RegExp) =>
    assert.throws(
      () => parseStoredPolicy(json, "j-1"),
      (e) => e instanceof StoredPolicyError && /^job j-1: policy_json/.test(e.message) && re.test(e.message),
    );
  bad("{not json", /not JSON/);
  bad("[1]", /not an object/);
  bad(JSON.stringify({ something: 1 }), /kind/);
  bad(JSON.stringify({ ...policy, policy: "yolo" }), /policy/);
  bad(JSON.stringify({ ...policy, random: { seed: 1 } }), /random/);
  bad(JSON.stringify({ history: [{ kind: "launched", atMs: "x", offer }] }), /atMs/);
  bad(JSON.stringify({ ...policy, decided: { tick: 4, choice: "maybe", rule: "x" } }), /choice/);
  bad(JSON.stringify({ kind: "what", ...policy }), /kind/);
  // The wrong shape for the strategy asking is an error too.
  assert.throws(() => failoverStateOf(JSON.stringify(policy), "j-1"), StoredPolicyError);
  assert.throws(() => deadlineStateOf(JSON.stringify(walk), "j-1"), StoredPolicyError);
});
