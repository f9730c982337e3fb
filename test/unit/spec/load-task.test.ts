import assert from "node:assert/strict";
import { test } from "node:test";
import { SpotrunError } from "../../../src/base/errors.js";
import { parseTaskText } from "../../../src/spec/load-task.js";

const oneLineError = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof SpotrunError);
    assert.equal(e.exitCode, 2);
    return e.message;
  }
  assert.fail("expected an error");
};

test("a minimal task gets the documented defaults", () => {
  const t = parseTaskText("run: python train.py\n", "t.yaml");
  assert.equal(t.resources.provider, "local");
  assert.equal(t.checkpoint.hook_timeout, 90_000);
  assert.equal(t.checkpoint.stall_warning, 3_600_000);
  assert.equal(t.recovery.max_restarts_on_errors, 0);
  assert.equal(t.num_nodes, 1);
});

test("durations, envs and overrides", () => {
  const t = parseTaskText("run: x\ncheckpoint: {hook_timeout: 30s, stall_warning: 2h}\nenvs: {A: 1, B: true}\n", "t.yaml", {
    "resources.spot": false,
    "budget.max_cost": 2,
  });
  assert.equal(t.checkpoint.hook_timeout, 30_000);
  assert.equal(t.checkpoint.stall_warning, 7_200_000);
  assert.deepEqual(t.envs, { A: "1", B: "true" });
  assert.equal(t.resources.spot, false);
  assert.equal(t.budget.max_cost, 2);
});

test("errors name the file and the field and what is allowed", () => {
  assert.match(
    oneLineError(() => parseTaskText("run: x\nresources: {provider: azure}\n", "t.yaml")),
    /^t\.yaml: resources\.provider: got "azure", allowed: local \| aws \| gcp \| vast$/,
  );
  assert.match(
    oneLineError(() => parseTaskText("run: x\nresources: {spot: yes please}\n", "t.yaml")),
    /resources\.spot: expected boolean/,
  );
  assert.match(
    oneLineError(() => parseTaskText("run: x\nchekpoint: {}\n", "t.yaml")),
    /unknown field chekpoint/,
  );
  assert.match(
    oneLineError(() => parseTaskText("name: a\n", "t.yaml")),
    /t\.yaml: run: required/,
  );
  assert.match(
    oneLineError(() => parseTaskText("run: x\ncheckpoint: {hook_timeout: soon}\n", "t.yaml")),
    /expected a duration/,
  );
  assert.match(
    oneLineError(() => parseTaskText("run: [unclosed\n", "t.yaml")),
    /^t\.yaml:\d+:\d+: invalid YAML/,
  );
  assert.match(
    oneLineError(() => parseTaskText("run: x\nresources: {provider: aws, market: {}}\n", "t.yaml")),
    /market is only valid with provider: local/,
  );
});
