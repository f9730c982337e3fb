import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { SpotrunError } from "../../../src/base/errors.js";
import { applyUserDefaults } from "../../../src/config/apply-user-defaults.js";
import { effectiveSettings } from "../../../src/config/effective-settings.js";
import { loadUserConfig } from "../../../src/config/load-user-config.js";
import { parseTaskText } from "../../../src/spec/load-task.js";

let home: string;
before(async () => {
  home = await mkdtemp(join(tmpdir(), "spotrun-config-"));
});
after(async () => rm(home, { recursive: true, force: true }));

const errorOf = (fn: () => unknown): SpotrunError => {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof SpotrunError);
    return e;
  }
  throw new Error("expected an error");
};

test("no config file is an empty config; SPOTRUN_CONFIG names one that must exist", () => {
  assert.deepEqual(loadUserConfig(home, {}).config, {});
  const e = errorOf(() => loadUserConfig(home, { SPOTRUN_CONFIG: join(home, "nope.yaml") }));
  assert.equal(e.exitCode, 3);
  assert.match(e.oneLine(), /nope\.yaml.*SPOTRUN_CONFIG.*ENOENT/);
});

test("a bad field is named with the file and what is allowed, exit 2", async () => {
  const file = join(home, "bad.yaml");
  await writeFile(file, "resources: {provider: azure}\n");
  const e = errorOf(() => loadUserConfig(home, { SPOTRUN_CONFIG: file }));
  assert.equal(e.exitCode, 2);
  assert.match(
    e.oneLine(),
    /bad\.yaml: resources\.provider: got "azure", allowed: local \| aws \| gcp \| vast — fix the user config/,
  );
  await writeFile(file, "notify: [{webhook: ftp://x}]\n");
  assert.match(
    errorOf(() => loadUserConfig(home, { SPOTRUN_CONFIG: file })).message,
    /bad\.yaml: notify\.0\.webhook: an http:\/\/ or https:\/\/ URL/,
  );
  await writeFile(file, "notify: [{webhook: http://127.0.0.1:1/, on: [exploded]}]\n");
  assert.match(
    errorOf(() => loadUserConfig(home, { SPOTRUN_CONFIG: file })).message,
    /notify\.0\.on\.0: got "exploded", allowed: preempted \| recovered/,
  );
  await writeFile(file, "notify: [{slack: http://127.0.0.1:1/, command: x}]\n");
  assert.match(
    errorOf(() => loadUserConfig(home, { SPOTRUN_CONFIG: file })).message,
    /notify\.0: give one of webhook, slack or command, not slack and command/,
  );
  await writeFile(file, "dashbord: {port: 1}\n");
  assert.match(errorOf(() => loadUserConfig(home, { SPOTRUN_CONFIG: file })).message, /unknown field dashbord/);
});

test("defaults fill what the task leaves out; the task wins; a region only goes with its provider", async () => {
  const file = join(home, "config.yaml");
  await writeFile(
    file,
    "resources: {provider: aws, region: eu-west-1, spot: false, max_price: 0.4}\ncheckpoint: {store: s3://b/p}\ndashboard: {port: 9000}\n",
  );
  const { config } = loadUserConfig(home, {});
  const withDefaults = (yaml: string) => parseTaskText(yaml, "task.yaml", {}, (raw) => applyUserDefaults(raw, config));
  const a = withDefaults("run: x\n");
  assert.deepEqual(
    [a.resources.provider, a.resources.region, a.resources.spot, a.resources.max_price],
    ["aws", "eu-west-1", false, 0.4],
  );
  assert.equal(a.checkpoint.store, "s3://b/p");
  const b = withDefaults("run: x\nresources: {provider: local, spot: true}\ncheckpoint: {store: file:///tmp/c}\n");
  assert.deepEqual([b.resources.provider, b.resources.region, b.resources.spot], ["local", undefined, true]);
  assert.equal(b.checkpoint.store, "file:///tmp/c");

  const settings = effectiveSettings({ dir: home, source: "--home" }, loadUserConfig(home, {}), {});
  const by = Object.fromEntries(settings.map((s) => [s.key, s]));
  assert.deepEqual(by["resources.region"], { key: "resources.region", value: "eu-west-1", source: file });
  assert.deepEqual(by["dashboard.port"], { key: "dashboard.port", value: 9000, source: file });
  assert.equal(by.home?.source, "--home");
});
