import assert from "node:assert/strict";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { lastJson, sandbox, spotrun, stepsInLog } from "../support-cli/spotrun-cli.js";

interface JobJson {
  id: string;
  name: string;
  state: string;
}

/** Quick runs: no task file, the task built from the flags and the current directory. */
describe("spotrun run without a task file", () => {
  let box: Awaited<ReturnType<typeof sandbox>>;
  before(async () => {
    box = await sandbox("quick");
    await writeFile(
      join(box.work, "show_args.py"),
      "import json, sys\nprint('ARGS ' + json.dumps(sys.argv[1:], separators=(',', ':')), flush=True)\n",
    );
  });
  after(async () => box.cleanup());

  const log = async (id: string) => (await spotrun(box.home, ["logs", id])).stdout;
  const run = (args: string[], env: Record<string, string> = {}) =>
    spotrun(box.home, ["--json", "run", ...args], { cwd: box.work, env, timeoutMs: 180_000 });

  test("a script with arguments after --, quoted so the program gets each one unchanged; a task file too", async () => {
    const words = ["--lr", "3e-4", "two words", "it's", "$HOME", "a;b", ""];
    const r = await run(["show_args.py", "--", ...words]);
    assert.equal(r.code, 0, r.stderr);
    const job = lastJson<JobJson>(r.stdout);
    assert.equal(job.state, "SUCCEEDED");
    assert.equal(job.name, "show_args");
    assert.match(await log(job.id), new RegExp(`^ARGS ${regexQuote(JSON.stringify(words))}$`, "m"));

    await writeFile(
      join(box.work, "args.yaml"),
      "name: from-file\nresources: {provider: local}\nworkdir: .\nrun: python3 show_args.py --fixed\n",
    );
    const f = await run(["args.yaml", "--", "x y", "z"]);
    assert.equal(f.code, 0, f.stderr);
    assert.match(await log(lastJson<JobJson>(f.stdout).id), /^ARGS \["--fixed","x y","z"\]$/m);

    const c = await run(["--", "python3", "show_args.py", "only", "after dashes"]);
    assert.equal(c.code, 0, c.stderr);
    assert.match(await log(lastJson<JobJson>(c.stdout).id), /^ARGS \["only","after dashes"\]$/m);
  });

  test("with requirements.txt and no --setup, setup is pip install -r requirements.txt in the workdir", async () => {
    const dir = join(box.work, "..", "req");
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "requirements.txt"), "numpy==1.26.4\n");
    await writeFile(join(dir, "main.py"), "print('main ran', flush=True)\n");
    // A pip of our own first on PATH: it records what it was asked, in the directory it ran in, and installs nothing.
    const bin = join(box.work, "..", "bin");
    await mkdir(bin, { recursive: true });
    const record = join(box.work, "..", "pip-calls");
    await writeFile(join(bin, "pip"), `#!/bin/sh\necho "$PWD|$*|$(cat requirements.txt)" >> ${record}\n`);
    await chmod(join(bin, "pip"), 0o755);
    const printed = await spotrun(box.home, ["run", "main.py", "--print-task"], { cwd: dir });
    assert.match(printed.stdout, /^setup: pip install -r requirements\.txt$/m);
    assert.match(printed.stdout, /^checkpoint:\n {2}dir: checkpoints$/m);
    const r = await spotrun(box.home, ["run", "main.py", "--json"], {
      cwd: dir,
      env: { PATH: `${bin}:${process.env.PATH}` },
      timeoutMs: 180_000,
    });
    assert.equal(r.code, 0, r.stderr);
    const job = lastJson<JobJson>(r.stdout);
    assert.match(await log(job.id), /main ran/);
    const [call = "", ...more] = (await readFile(record, "utf8")).trim().split("\n");
    assert.deepEqual(more, [], "setup ran once");
    const [cwd, args, requirements] = call.split("|");
    assert.equal(args, "install -r requirements.txt");
    assert.equal(requirements, "numpy==1.26.4", "in a copy of the workdir");
    assert.notEqual(cwd, dir, "on the instance, not here");
    // --setup wins over the default.
    const own = await spotrun(box.home, ["run", "main.py", "--setup", "true", "--print-task"], { cwd: dir });
    assert.match(own.stdout, /^setup: "?true"?$/m);
  });

  test("--resume-from a finished job starts the next from its newest checkpoint", async () => {
    const env = ["--env", "CHECKPOINT_EVERY=10", "--env", "STEP_SECONDS=0.02"];
    const first = await run(["trainer.py", "--env", "TOTAL_STEPS=30", ...env]);
    assert.equal(first.code, 0, first.stderr);
    const a = lastJson<JobJson>(first.stdout);
    assert.deepEqual(
      await stepsInLog(box.home, a.id),
      Array.from({ length: 30 }, (_, i) => i + 1),
    );

    const second = await run(["trainer.py", "--resume-from", a.id, "--env", "TOTAL_STEPS=45", ...env]);
    assert.equal(second.code, 0, second.stderr);
    const b = lastJson<JobJson>(second.stdout);
    const text = await log(b.id);
    assert.match(text, /^start at step 30 \(restart=false, from g-\d{6}-\d{13}\)$/m, text);
    assert.deepEqual(
      await stepsInLog(box.home, b.id),
      Array.from({ length: 15 }, (_, i) => i + 31),
      "no step redone",
    );

    // A reference to nothing is refused at submit, not run from scratch.
    const none = await run(["trainer.py", "--resume-from", "j-doesnotexist"]);
    assert.equal(none.code, 2);
    assert.match(JSON.parse(none.stderr).error.message, /^--resume-from "j-doesnotexist": no job/);
  });
});

const regexQuote = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
