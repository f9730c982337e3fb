import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ERROR_CODES } from "../../src/base/errors.js";
import { spotrun } from "../support-cli/spotrun-cli.js";

interface JsonError {
  error: { code: string; message: string; fix: string; exit_code: number };
}

/** One `spotrun: what — fix` line on stderr, nothing on stdout. */
function assertOneLine(r: { code: number; stdout: string; stderr: string }, exit: number, what: RegExp): void {
  assert.equal(r.code, exit, r.stderr);
  assert.equal(r.stdout, "");
  const lines = r.stderr.split("\n").filter(Boolean);
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0] as string, /^spotrun: .+ — .+$/);
  assert.match(lines[0] as string, what);
}

/** Under --json: exactly one JSON object on stderr, nothing on stdout. */
function assertJsonError(r: { code: number; stdout: string; stderr: string }, exit: number, code: string): JsonError["error"] {
  assert.equal(r.code, exit, r.stderr);
  assert.equal(r.stdout, "");
  const lines = r.stderr.split("\n").filter(Boolean);
  assert.equal(lines.length, 1, r.stderr);
  const doc = JSON.parse(lines[0] as string) as JsonError;
  assert.deepEqual(Object.keys(doc), ["error"]);
  assert.equal(doc.error.code, code);
  assert.equal(doc.error.exit_code, exit);
  assert.ok(doc.error.message && doc.error.fix);
  assert.ok(code in ERROR_CODES);
  return doc.error;
}

describe("the CLI's one error path", () => {
  let home: string;
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "spotrun-errors-"));
    home = join(dir, "home");
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  test("Commander's own errors are one line naming the command's help, exit 2", async () => {
    const [unknownOption, missing, extra, unknownCommand] = await Promise.all([
      spotrun(home, ["status", "--bogus"]),
      spotrun(home, ["cancel"]),
      spotrun(home, ["status", "a", "b"]),
      spotrun(home, ["statuz"]),
    ]);
    assertOneLine(unknownOption, 2, /unknown option '--bogus' — see `spotrun status --help`/);
    assertOneLine(missing, 2, /missing required argument 'jobs' — see `spotrun cancel --help`/);
    assertOneLine(extra, 2, /too many arguments for 'status'/);
    assertOneLine(unknownCommand, 2, /unknown command 'statuz' — did you mean status\?/);
  });

  test("under --json every failure is one JSON object on stderr and nothing on stdout", async () => {
    const task = join(dir, "bad.yaml");
    await writeFile(task, "run: x\nresources: {provider: azure}\n");
    const [option, subcommand, notFound, badTask] = await Promise.all([
      spotrun(home, ["--json", "run", "--bogus", "x.yaml"]),
      spotrun(home, ["session", "--json"]),
      spotrun(home, ["status", "j-nope", "--json"]),
      spotrun(home, ["run", task, "--json"]),
    ]);
    assert.match(assertJsonError(option, 2, "usage").message, /unknown option '--bogus'/);
    assert.match(assertJsonError(subcommand, 2, "usage").message, /`spotrun session` needs a command/);
    assert.match(assertJsonError(notFound, 3, "not_found").message, /no job "j-nope"/);
    assert.match(assertJsonError(badTask, 2, "usage").message, /bad\.yaml: resources\.provider: got "azure"/);
  });

  test("no command: the help on stderr, nothing on stdout, exit 2; --help and --version exit 0", async () => {
    const [none, help, version] = await Promise.all([spotrun(home, []), spotrun(home, ["--help"]), spotrun(home, ["--version"])]);
    assert.equal(none.code, 2);
    assert.equal(none.stdout, "");
    assert.match(none.stderr, /Usage: spotrun/);
    assert.match(none.stderr.trimEnd().split("\n").at(-1) as string, /^spotrun: no command given — /);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: spotrun/);
    assert.equal(version.code, 0);
    assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
  });
});

test("the README lists every error code with its exit code", async () => {
  const { readFile } = await import("node:fs/promises");
  const readme = await readFile(join(process.cwd(), "README.md"), "utf8");
  for (const [code, meaning] of Object.entries(ERROR_CODES)) {
    const exit = /\(exit (\d)\)/.exec(meaning)?.[1];
    assert.match(readme, new RegExp(`\\| \`${code}\` \\| ${exit} \\|`), `${code} in the README's table`);
  }
});
