import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { SpotrunError } from "../../../src/base/errors.js";
import { FlagValue, loadTaskFile, parseTaskText } from "../../../src/spec/load-task.js";
import { MAX_YAML_BYTES, readSettingsFile } from "../../../src/spec/read-yaml.js";

/** The usage error a task text gets: one line, exit 2. */
function refusal(text: string, overrides = {}): string {
  try {
    parseTaskText(text, "t.yaml", overrides);
  } catch (e) {
    assert.ok(e instanceof SpotrunError, String(e));
    assert.equal(e.exitCode, 2);
    const line = e.oneLine();
    assert.doesNotMatch(line, /\n/);
    return line;
  }
  assert.fail("expected a usage error");
}

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "spotrun-yaml-"));
});
after(async () => rm(dir, { recursive: true, force: true }));

test("a task file past the size bound is refused before it is parsed, and a read stops at the bound", async () => {
  const many = `run: x\n${Array.from({ length: 40_000 }, (_, i) => `k${i}: ${i}`).join("\n")}\n`;
  assert.match(refusal(many), /^t\.yaml: \d+ bytes, over the 128 KiB a task file may have — /);
  const big = join(dir, "big.yaml");
  await writeFile(big, "#".repeat(10 * 1024 * 1024));
  await assert.rejects(loadTaskFile(big), /over the 128 KiB a task file may have/);
  // /dev/zero never ends: the read must stop by itself.
  await assert.rejects(readSettingsFile("/dev/zero", "task file"), /over the 128 KiB/);
});

test("many keys under the bound parse, with duplicates found without the library's quadratic check", () => {
  const keys = Array.from({ length: 9_000 }, (_, i) => `  K${i}: ${i}`);
  const text = `run: x\nenvs:\n${keys.join("\n")}\n`;
  assert.ok(Buffer.byteLength(text) < MAX_YAML_BYTES);
  assert.equal(Object.keys(parseTaskText(text, "t.yaml").envs).length, 9_000);
  assert.match(refusal(`run: x\nenvs:\n${keys.join("\n")}\n  K17: again\n`), /^t\.yaml:9003:3: envs: K17 appears twice — /);
});

test("aliases: a bomb, an unresolved and a circular alias are one line naming file, position and field", () => {
  const nine = (x: string) => `[${Array(9).fill(x).join(",")}]`;
  const bomb = `run: x\na: &a ${nine('"lol"')}\nb: &b ${nine("*a")}\nc: &c ${nine("*b")}\nd: &d ${nine("*c")}\ne: &e ${nine("*d")}\nf: ${nine("*e")}\n`;
  assert.match(refusal(bomb), /^t\.yaml:7:4: f: its aliases expand to \d+ values, over 100000 — /);
  assert.match(refusal("run: *nope\n"), /^t\.yaml:1:6: run: unresolved alias \*nope — define the anchor &nope/);
  assert.match(refusal("run: x\nenvs: &e {A: *e}\n"), /^t\.yaml:2:14: envs\.A: alias \*e refers to a value that contains it — /);
  assert.match(refusal("run: x\nresources: &r {market: {x: [*r]}}\n"), /resources\.market\.x\.0: alias \*r/);
  // An alias that only repeats a value is fine.
  assert.deepEqual(parseTaskText("x: &v 1\nrun: x\n".replace("x: &v 1\n", "envs: {A: &v 1, B: *v}\n"), "t.yaml").envs, {
    A: "1",
    B: "1",
  });
});

test("a complex key is refused before the YAML library would warn about it", () => {
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.message);
  process.on("warning", onWarning);
  try {
    assert.match(
      refusal("run: x\nresources:\n  ? [a, b]\n  : 1\n"),
      /^t\.yaml:3:5: resources: a key must be a plain value, not a sequence — /,
    );
  } finally {
    process.off("warning", onWarning);
  }
  assert.deepEqual(warnings, []);
});

test("names and values with newlines are quoted, so the error stays on one line", () => {
  assert.match(refusal('run: x\n"bad\\nfield": 1\n'), /unknown field "bad\\nfield"/);
  assert.match(refusal('run: x\nenvs: {"A\\nB": 1}\n'), /^t\.yaml: envs\."A\\nB": not an environment variable name/);
});

test("a field a flag set is blamed on the flag, not on the file", () => {
  assert.match(
    refusal("run: x\n", { "resources.provider": new FlagValue("--provider", "azure") }),
    /^--provider: got "azure", allowed: local \| aws \| gcp \| vast — fix --provider/,
  );
  assert.match(refusal("run: x\n", { "array.count": new FlagValue("--count", 0) }), /^--count: /);
  assert.match(refusal("run: x\narray: {count: 0}\n"), /^t\.yaml: array\.count: /);
});

test("a file that is not UTF-8, or holds a NUL, is refused at the byte, not run with replacement characters", async () => {
  const body = (bytes: number[]) => Buffer.concat([Buffer.from("name: t\nrun: echo caf"), Buffer.from(bytes), Buffer.from("\n")]);
  const cases: [number[], RegExp][] = [
    [[0xe9], /:2: byte 0xe9 is not UTF-8/],
    [[0xc0, 0xaf], /:2: byte 0xc0 is not UTF-8/],
    [[0xe2, 0x82], /:2: byte 0xe2 is not UTF-8/],
    [[0x00], /:2: a NUL byte/],
  ];
  for (const [bytes, what] of cases) {
    const p = join(dir, "enc.yaml");
    await writeFile(p, body(bytes));
    await assert.rejects(loadTaskFile(p), (e: unknown) => e instanceof SpotrunError && e.exitCode === 2 && what.test(e.message));
  }
  await writeFile(join(dir, "ok.yaml"), body([0xc3, 0xa9]));
  assert.equal((await loadTaskFile(join(dir, "ok.yaml"))).task.run, "echo café");
});

test("numbers and durations no run can mean are refused by the schema", () => {
  for (const [field, text] of <[string, string][]>[
    ["num_nodes", "num_nodes: 1000000"],
    ["checkpoint.keep", "checkpoint: {keep: 1000000000}"],
    ["recovery.max_restarts", "recovery: {max_restarts: 1000000000000}"],
    ["resources.disk", "resources: {disk: 1.0e+300}"],
    ["resources.max_price", "resources: {max_price: 1000000000000}"],
  ])
    assert.match(refusal(`run: x\n${text}\n`), new RegExp(`^t\\.yaml: ${field.replace(/\./g, "\\.")}: `));
  assert.match(
    refusal("run: x\ncheckpoint: {hook_timeout: 99999999999999999999h}\n"),
    /checkpoint\.hook_timeout: .* longer than a year/,
  );
});
