import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { SpotrunError } from "../../../src/base/errors.js";
import { parseSessionText } from "../../../src/sessions/session-schema.js";
import { formatSize, parseSize } from "../../../src/sessions/size.js";

const minimal = "persist: [~/.agent-state]\nagents: [{name: a, command: run-agent}]\n";

function errorOf(text: string): string {
  try {
    parseSessionText(text, "s.yaml");
  } catch (e) {
    assert.ok(e instanceof SpotrunError);
    assert.equal(e.kind, "usage");
    return e.oneLine();
  }
  assert.fail("expected a usage error");
}

describe("session file", () => {
  test("defaults: 10 min snapshots, a 25 s save budget, a 10 GiB volume, local spot", () => {
    const s = parseSessionText(minimal, "s.yaml");
    assert.equal(s.snapshot_interval, 600_000);
    assert.equal(s.save_budget, 25_000);
    assert.equal(s.volume.size, 10 * 1024 ** 3);
    assert.equal(s.resources.provider, "local");
    assert.equal(s.resources.spot, true);
    assert.equal(s.agents[0]?.resume_command, undefined);
  });

  test("durations, sizes and stop keys are read", () => {
    const s = parseSessionText(
      `${minimal.replace("command: run-agent", "command: c, resume_command: c --continue, stop_keys: [C-c, Enter]")}snapshot_interval: 90s\nsave_budget: 20s\nvolume: {size: 512MB}\n`,
      "s.yaml",
    );
    assert.equal(s.snapshot_interval, 90_000);
    assert.equal(s.save_budget, 20_000);
    assert.equal(s.volume.size, 512 * 1024 ** 2);
    assert.deepEqual(s.agents[0]?.stop_keys, ["C-c", "Enter"]);
  });

  test("errors name the file and the field", () => {
    assert.match(errorOf("agents: [{name: a, command: x}]\n"), /^s\.yaml: persist: /);
    assert.match(errorOf("persist: [relative/path]\nagents: [{name: a, command: x}]\n"), /s\.yaml: persist\.0: expected ~\/path/);
    assert.match(
      errorOf("persist: ['~']\nagents: [{name: a, command: x}]\n"),
      /persist\.0: expected ~\/path or \/absolute\/path/,
    );
    assert.match(errorOf(`${minimal}volume: {size: lots}\n`), /s\.yaml: volume\.size: expected a size such as 10GB/);
    assert.match(errorOf(`${minimal}save_budget: soon\n`), /s\.yaml: save_budget: expected a duration/);
    assert.match(
      errorOf("persist: [~/x]\nagents: [{name: a, command: x}, {name: a, command: y}]\n"),
      /agents\.1\.name: agent name a is used twice/,
    );
    assert.match(errorOf("persist: [~/x]\nagents: [{name: 'a b', command: x}]\n"), /agents\.0\.name: letters, digits/);
    assert.match(errorOf(`${minimal}agent: []\n`), /s\.yaml: \(top level\): unknown field agent/);
    assert.match(errorOf("persist: [~/x\n"), /^s\.yaml:\d+:\d+: invalid YAML/);
  });
});

describe("sizes", () => {
  test("binary units, a bare number is GiB, nonsense is undefined", () => {
    assert.equal(parseSize("10GB"), 10 * 1024 ** 3);
    assert.equal(parseSize("10GiB"), 10 * 1024 ** 3);
    assert.equal(parseSize("1.5T"), 1.5 * 1024 ** 4);
    assert.equal(parseSize("512mb"), 512 * 1024 ** 2);
    assert.equal(parseSize("20"), 20 * 1024 ** 3);
    assert.equal(parseSize(2), 2 * 1024 ** 3);
    assert.equal(parseSize("100B"), 100);
    assert.equal(parseSize("lots"), undefined);
    assert.equal(parseSize("0GB"), undefined);
    assert.equal(formatSize(10 * 1024 ** 3), "10 GiB");
    assert.equal(formatSize(1536), "1.5 KiB");
    assert.equal(formatSize(12), "12 B");
  });
});
