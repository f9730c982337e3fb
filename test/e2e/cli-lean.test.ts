import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { loadedModules } from "../support/loaded-modules.js";
import { bin, repoRoot } from "../support-cli/spotrun-cli.js";

/**
 * `spotrun --version` and `--help` are what scripts and coding agents call first and most: they
 * load none of the store, the schemas or the cloud code. Each run records every module the
 * process loads (test/support/module-recorder.ts: ES modules and CommonJS alike).
 */
const recorder = pathToFileURL(join(repoRoot, "dist", "test", "support", "module-recorder.js")).href;
const HEAVY = ["kysely", "better-sqlite3", "pg", "zod", "yaml", "pino", "prom-client", "ssh2", "string-width"];
const distSrc = pathToFileURL(join(repoRoot, "dist", "src")).href;

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "spotrun-lean-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

let n = 0;
async function loaded(args: string[]): Promise<{ stdout: string; modules: string[] }> {
  const log = join(dir, `modules-${n++}.txt`);
  const stdout = await new Promise<string>((done, fail) =>
    execFile(
      process.execPath,
      ["--import", recorder, bin, ...args],
      { env: { ...process.env, SPOTRUN_MODULE_LOG: log, SPOTRUN_HOME: join(dir, "home") } },
      (err, out, errOut) => (err ? fail(new Error(`${err.message}\n${errOut}`)) : done(out)),
    ),
  );
  const modules = loadedModules(log, repoRoot);
  return { stdout, modules };
}

/** The npm packages among the modules, by name (`@aws-sdk/client-ec2`, `kysely`). */
const packagesOf = (modules: string[]) =>
  [...new Set(modules.flatMap((u) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u)?.[1] ?? []))].sort();

/** The project's own modules among them, relative to dist/src (`cli/main.js`). */
const ownOf = (modules: string[]) => modules.filter((u) => u.startsWith(`${distSrc}/`)).map((u) => u.slice(distSrc.length + 1));

test("--version loads no package and none of spotrun's modules: it is answered from package.json", async () => {
  const { stdout, modules } = await loaded(["--version"]);
  const { version } = JSON.parse(await readFile(join(repoRoot, "package.json"), "utf8")) as { version: string };
  assert.equal(stdout.trim(), version);
  assert.deepEqual(packagesOf(modules), []);
  assert.deepEqual(ownOf(modules), []);
  assert.ok(
    modules.some((u) => fileURLToPath(u) === bin),
    "the recorder saw the bin itself (it records)",
  );
});

for (const args of [["--help"], ["status", "--help"], ["session", "start", "--help"], ["-V", "--json"]]) {
  test(`spotrun ${args.join(" ")} loads the command definitions only: commander, no store, schema, SDK or handler`, async () => {
    const { stdout, modules } = await loaded(args);
    assert.ok(stdout.length > 0);
    const packages = packagesOf(modules);
    assert.deepEqual(packages, ["commander"], `packages loaded: ${packages.join(", ")}`);
    for (const p of HEAVY) assert.ok(!packages.includes(p), p);
    const own = ownOf(modules);
    // The definitions' world: the CLI's own plumbing, base helpers and the task file's bounds.
    const heavy = own.filter(
      (m) =>
        /-actions\.js$/.test(m) ||
        /^(state|core|api|sessions|agent|transport|checkpoints|bootstrap|placement|mcp|dashboard|metrics|cost)\//.test(m) ||
        (m.startsWith("spec/") && m !== "spec/task-limits.js") ||
        (m.startsWith("providers/") && m !== "providers/vast/cli/vast-commands.js") ||
        m === "cli/app.js",
    );
    assert.deepEqual(heavy, [], `modules a definition should not load: ${heavy.join(", ")}`);
    assert.ok(own.includes("cli/commands/index.js"), "the command table was built");
  });
}

test("a command still loads what it needs once it runs: status --json opens the store", async () => {
  const { stdout, modules } = await loaded(["status", "--json"]);
  assert.deepEqual(JSON.parse(stdout).jobs, []);
  const packages = packagesOf(modules);
  for (const p of ["kysely", "better-sqlite3"]) assert.ok(packages.includes(p), `${p} loaded by status`);
  for (const p of packages) assert.ok(!p.startsWith("@aws-sdk/") && !p.startsWith("@google-cloud/"), `${p} loaded by status`);
});
