import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type CliResult, spotrun } from "../support-cli/spotrun-cli.js";

/** Issue 17's bad input: each is one `spotrun: what — fix` line, exit 2, nothing on stdout. */
function oneLine(r: CliResult, what: RegExp): void {
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stdout, "");
  const lines = r.stderr.split("\n").filter(Boolean);
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0] as string, /^spotrun: .+ — .+$/);
  assert.match(lines[0] as string, what);
}

describe("bad input through the CLI", () => {
  let dir: string;
  let home: string;
  let task: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "spotrun-bad-input-"));
    home = join(dir, "home");
    task = join(dir, "task.yaml");
    await writeFile(task, "name: t\nresources: {provider: local}\nrun: echo hi\n");
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  test("numeric flags: huge, non-numeric and out-of-range values name the flag (items 2, 4, 8)", async () => {
    const run = (...flags: string[]) => spotrun(home, ["run", task, "--detach", ...flags], { timeoutMs: 20_000 });
    const [huge, tooHuge, abc, count, countAbc, notice] = await Promise.all([
      run("--interrupt-every", "8s", "--interruptions", "1e8"),
      run("--interrupt-every", "8s", "--interruptions", "1e10"),
      run("--interrupt-every", "8s", "--interruptions", "abc"),
      run("--count", "1e9"),
      run("--count", "abc"),
      run("--notice", "soon"),
    ]);
    oneLine(huge, /^spotrun: --interruptions: "1e8" is out of range — give --interruptions a number from 0 to 1000$/);
    oneLine(tooHuge, /^spotrun: --interruptions: "1e10" is out of range/);
    oneLine(abc, /^spotrun: --interruptions: expected a whole number, got "abc"/);
    oneLine(count, /^spotrun: --count: "1e9" is out of range — give --count a number from 1 to 10000$/);
    oneLine(countAbc, /^spotrun: --count: expected a whole number, got "abc"/);
    oneLine(notice, /^spotrun: --notice: expected a duration, got "soon"/);
    // Nothing was submitted by any of them.
    const status = await spotrun(home, ["status", "--all", "--json"]);
    assert.deepEqual(JSON.parse(status.stdout).jobs, []);
  });

  test("--env without = and --env with a newline say what to write (item 7)", async () => {
    const [noEquals, newline] = await Promise.all([
      spotrun(home, ["run", task, "--env", "NOEQUALS"]),
      spotrun(home, ["run", task, "--env", "A\nB=1"]),
    ]);
    oneLine(noEquals, /^spotrun: --env "NOEQUALS" is not KEY=VALUE — write it as --env NAME=value/);
    oneLine(newline, /^spotrun: --env: "A\\nB" is not an environment variable name — /);
  });

  test("an unknown local instance type names the file and field, or the flag (item 7)", async () => {
    const huge = join(dir, "huge.yaml");
    await writeFile(huge, "resources: {provider: local, instance_type: local.huge}\nrun: echo hi\n");
    const [inFile, byFlag] = await Promise.all([
      spotrun(home, ["run", huge, "--detach"]),
      spotrun(home, ["run", task, "--detach", "--instance-type", "local.huge"]),
    ]);
    oneLine(
      inFile,
      /huge\.yaml: resources\.instance_type: unknown instance type "local\.huge" for provider local \[UnknownInstanceType\] — use one of local\.small/,
    );
    oneLine(byFlag, /^spotrun: --instance-type: unknown instance type "local\.huge"/);
  });

  test("YAML aliases and complex keys: one line naming file and field, no Node warning after it (items 3, 7)", async () => {
    const write = async (name: string, text: string) => {
      const p = join(dir, name);
      await writeFile(p, text);
      return p;
    };
    const nine = (x: string) => `[${Array(9).fill(x).join(",")}]`;
    const files = await Promise.all([
      write(
        "bomb.yaml",
        `run: x\na: &a ${nine('"x"')}\nb: &b ${nine("*a")}\nc: &c ${nine("*b")}\nd: &d ${nine("*c")}\ne: &e ${nine("*d")}\nf: ${nine("*e")}\n`,
      ),
      write("unresolved.yaml", "run: *nope\n"),
      write("circular.yaml", "run: x\nenvs: &e {A: *e}\n"),
      write("complex.yaml", "run: x\n? [a, b]\n: 1\n"),
    ]);
    const [bomb, unresolved, circular, complex] = (await Promise.all(files.map((f) => spotrun(home, ["run", f])))) as [
      CliResult,
      CliResult,
      CliResult,
      CliResult,
    ];
    oneLine(bomb, /bomb\.yaml:7:4: f: its aliases expand to \d+ values/);
    oneLine(unresolved, /unresolved\.yaml:1:6: run: unresolved alias \*nope/);
    oneLine(circular, /circular\.yaml:2:14: envs\.A: alias \*e refers to a value that contains it/);
    oneLine(complex, /complex\.yaml:2:3: a key must be a plain value, not a sequence/);
  });

  test("a --home that is a file, and a state.db that is not a database, name the path (item 5)", async () => {
    const file = join(dir, "not-a-dir");
    await writeFile(file, "x");
    const corrupt = join(dir, "corrupt-home");
    await mkdir(corrupt);
    await writeFile(join(corrupt, "state.db"), "this is not a database, not even close to one, at all\n".repeat(4));
    const [asFile, below, bad] = await Promise.all([
      spotrun(file, ["status"]),
      spotrun(join(file, "sub"), ["status"]),
      spotrun(corrupt, ["status"]),
    ]);
    oneLine(
      asFile,
      new RegExp(`the spotrun home "${file}" is not a directory .*\\[EEXIST\\] — point --home or SPOTRUN_HOME at a directory`),
    );
    oneLine(below, /is not a directory .*\[ENOTDIR\]/);
    oneLine(
      bad,
      new RegExp(`the state store "${join(corrupt, "state.db")}" is not a SQLite database .*\\[SQLITE_NOTADB\\] — move it aside`),
    );
    assert.deepEqual(await readdir(corrupt), ["state.db"], "nothing written beside the damaged store");
  });
});
