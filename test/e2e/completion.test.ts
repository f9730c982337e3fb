import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { Command } from "commander";
import { buildProgram } from "../../src/cli/program.js";
import { loadedModules } from "../support/loaded-modules.js";
import { repoRoot, spotrun } from "../support-cli/spotrun-cli.js";

/**
 * `spotrun completion bash|zsh|fish`, run in the real shells. What each must complete is read
 * from commander's own tree of the definitions (every visible command path, its subcommands, its
 * long options), not from the generator, so a command added without completion fails here.
 */
interface Path {
  words: string[];
  subcommands: string[];
  longFlags: string[];
  argChoices: string[];
}

const visible = (c: Command) => !(c as unknown as { _hidden?: boolean })._hidden;

function expectedPaths(): Path[] {
  const program = buildProgram();
  const globals = program.options.filter((o) => o.long !== "--version").map((o) => o.long as string);
  const out: Path[] = [];
  const walk = (cmd: Command, words: string[]) => {
    const own = cmd === program ? ["--version"] : cmd.options.filter((o) => !o.hidden).map((o) => o.long as string);
    out.push({
      words,
      subcommands: cmd.commands.filter(visible).map((c) => c.name()),
      longFlags: [...new Set([...own, ...globals, "--help"])].sort(),
      argChoices: [...(cmd.registeredArguments[0]?.argChoices ?? [])],
    });
    for (const c of cmd.commands.filter(visible)) walk(c, [...words, c.name()]);
  };
  walk(program, []);
  return out;
}

let dir: string;
const scripts: Record<string, string> = {};
before(async () => {
  dir = mkdtempSync(join(tmpdir(), "spotrun-completion-"));
  for (const shell of ["bash", "zsh", "fish"]) {
    const r = await spotrun(join(dir, "home"), ["completion", shell]);
    assert.equal(r.code, 0, r.stderr);
    scripts[shell] = join(dir, `spotrun.${shell}`);
    writeFileSync(scripts[shell] as string, r.stdout);
  }
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Each query is COMP_CWORD then the words (the last one is the word being completed); one line of answers per query. */
function bashAnswers(script: string, queries: string[][]): string[][] {
  const q = (w: string) => `'${w.replace(/'/g, `'\\''`)}'`;
  const body = [
    `source ${q(script)}`,
    ...queries.map(
      (words) =>
        `COMP_WORDS=(${words.map(q).join(" ")}); COMP_CWORD=${words.length - 1}; COMPREPLY=(); _spotrun; echo "\${COMPREPLY[*]}"`,
    ),
  ].join("\n");
  const out = execFileSync("bash", ["--norc", "--noprofile", "-c", body], { encoding: "utf8", cwd: dir });
  return out
    .split("\n")
    .slice(0, queries.length)
    .map((l) => l.split(" ").filter(Boolean).sort());
}

test("bash: `complete -p` shows the function registered for spotrun", () => {
  const out = execFileSync("bash", ["--norc", "--noprofile", "-c", `source '${scripts.bash}'; complete -p spotrun`], {
    encoding: "utf8",
  });
  assert.equal(out.trim(), "complete -o default -F _spotrun spotrun");
});

test("bash: every command path completes its subcommands (and argument choices) and its options", () => {
  const paths = expectedPaths();
  assert.ok(paths.length > 40, `${paths.length} command paths`);
  const withWords = paths.filter((p) => p.subcommands.length || p.argChoices.length);
  const subs = bashAnswers(
    scripts.bash as string,
    withWords.map((p) => ["spotrun", ...p.words, ""]),
  );
  withWords.forEach((p, i) => {
    assert.deepEqual(subs[i], [...p.subcommands, ...p.argChoices].sort(), `spotrun ${p.words.join(" ")} <TAB>`);
  });
  const flags = bashAnswers(
    scripts.bash as string,
    paths.map((p) => ["spotrun", ...p.words, "--"]),
  );
  paths.forEach((p, i) => {
    assert.deepEqual(flags[i], p.longFlags, `spotrun ${p.words.join(" ")} --<TAB>`);
  });
});

test("bash: a prefix narrows, global flags before the command are skipped, option values come from their choices", () => {
  const [ses, st, statusA, provider, schema, after] = bashAnswers(scripts.bash as string, [
    ["spotrun", "ses"],
    ["spotrun", "session", "st"],
    ["spotrun", "status", "--a"],
    ["spotrun", "catalog", "update", "--provider", ""],
    ["spotrun", "--json", "schema", ""],
    ["spotrun", "--home", "/tmp/h", "session", "start", "w", "--vol"],
  ]);
  assert.deepEqual(ses, ["session"]);
  assert.deepEqual(st, ["start", "stop"]);
  assert.deepEqual(statusA, ["--all", "--array"]);
  const choices = buildProgram()
    .commands.find((c) => c.name() === "catalog")
    ?.commands.find((c) => c.name() === "update")
    ?.options.find((o) => o.long === "--provider")?.argChoices;
  assert.deepEqual(provider, [...(choices ?? ["missing"])].sort());
  assert.deepEqual(schema, ["session", "task"]);
  assert.deepEqual(after, ["--volume-size"]);
});

const has = (shell: string) => ["/usr/bin", "/bin", "/usr/local/bin"].some((d) => existsSync(join(d, shell)));

test("zsh: the script parses, and the same function answers under bashcompinit", { skip: !has("zsh") && "no zsh here" }, () => {
  execFileSync("zsh", ["-n", scripts.zsh as string]);
  const body = `autoload -U +X compinit && compinit -u -D; source '${scripts.zsh}'
COMP_WORDS=(spotrun session ""); COMP_CWORD=2; COMPREPLY=(); _spotrun; echo "\${COMPREPLY[*]}"
COMP_WORDS=(spotrun status --); COMP_CWORD=2; COMPREPLY=(); _spotrun; echo "\${COMPREPLY[*]}"`;
  const [session, status] = execFileSync("zsh", ["-f", "-c", body], { encoding: "utf8", cwd: dir }).split("\n");
  const paths = expectedPaths();
  // zsh filters by the prefix itself (compadd), so the function's answers are the whole lists.
  const sessionSubs = paths.find((p) => p.words.join(" ") === "session")?.subcommands ?? [];
  assert.deepEqual(session?.split(" ").sort(), [...sessionSubs].sort());
  const statusFlags = paths.find((p) => p.words.join(" ") === "status")?.longFlags ?? [];
  for (const f of statusFlags) assert.ok(status?.split(" ").includes(f), f);
});

test("fish: `complete -C` completes subcommands, options and option values", { skip: !has("fish") && "no fish here" }, () => {
  execFileSync("fish", ["--no-execute", scripts.fish as string]);
  const ask = (line: string) =>
    execFileSync("fish", ["--no-config", "-c", `source '${scripts.fish}'; complete -C '${line}'`], { encoding: "utf8", cwd: dir })
      .split("\n")
      .filter(Boolean)
      .map((l) => l.split("\t")[0] as string)
      .sort();
  const paths = expectedPaths();
  assert.deepEqual(ask("spotrun session "), [...(paths.find((p) => p.words.join(" ") === "session")?.subcommands ?? [])].sort());
  assert.deepEqual(ask("spotrun session st"), ["start", "stop"]);
  assert.deepEqual(ask("spotrun status --a"), ["--all", "--array"]);
  assert.deepEqual(ask("spotrun catalog update --provider "), ["aws", "gcp"]);
  assert.deepEqual(ask("spotrun schema "), ["session", "task"]);
});

test("spotrun completion loads the definitions, not the store, the schemas or an SDK", async () => {
  const log = join(dir, "modules.txt");
  execFileSync(
    process.execPath,
    [
      "--import",
      join(repoRoot, "dist", "test", "support", "module-recorder.js"),
      join(repoRoot, "bin", "spotrun.js"),
      "completion",
      "bash",
    ],
    { env: { ...process.env, SPOTRUN_MODULE_LOG: log } },
  );
  const packages = new Set(
    loadedModules(log, repoRoot).flatMap((u) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u)?.[1] ?? []),
  );
  assert.ok(packages.has("commander"));
  // Every command's wrapper makes its logger (pino); what a completion must never load:
  for (const p of packages)
    assert.ok(!/^(kysely|better-sqlite3|pg|zod|yaml|string-width|@aws-sdk\/.*|@google-cloud\/.*)$/.test(p), p);
});
