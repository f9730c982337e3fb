import { stringify } from "yaml";
import type { Random } from "../../src/base/random.js";
import { between, type CaseRef, caseId, caseRandom, pick } from "./reliability-kit.js";

/**
 * Generated bad input for the CLI: task files and arguments that must each end in one line
 * `spotrun: <what> — <what to do>` on stderr, exit 2 (3 for something not found), nothing on
 * stdout, no job submitted and nothing left running. Every case is built from its own seeded
 * generator (see reliability-kit), so its id replays it.
 */
export interface InputCase {
  id: string;
  family: string;
  /** What was done to the input, for failure messages. */
  what: string;
  /** Files to write in the case's directory (the CLI's working directory) before it runs. */
  files: { path: string; content: string | Buffer; mode?: number }[];
  /** Arguments after `--home <home>`; `{task}` is the case's task file. */
  args: string[];
  /** The home to pass, relative to the case's directory (default `home`). */
  home?: string;
  /** Something to prepare that a file cannot say. */
  prepare?: "corrupt-state-db";
  expectExit: 2 | 3;
}

/** A task that would be valid: each case breaks one thing in it, so only that thing can be blamed. */
export function baseTask(): Record<string, unknown> {
  return {
    name: "fuzz",
    resources: {
      provider: "local",
      instance_type: "local.small",
      spot: true,
      market: { notice: "2s", interrupt_after: ["30s"] },
    },
    workdir: ".",
    run: "exit 0",
    envs: { A: "1", B: 2 },
    checkpoint: { dir: "checkpoints", keep: 3, hook_timeout: "30s" },
    recovery: { max_restarts: 2, strategy: "same" },
    budget: { max_cost: 1 },
  };
}

const TASK = "task.yaml";

function setPath(doc: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> {
  const keys = path.split(".");
  let cur = doc;
  for (const k of keys.slice(0, -1)) {
    if (typeof cur[k] !== "object" || cur[k] === null || Array.isArray(cur[k])) cur[k] = {};
    cur = cur[k] as Record<string, unknown>;
  }
  cur[keys.at(-1) as string] = value;
  return doc;
}

const taskCase = (what: string, yamlText: string | Buffer, extraArgs: string[] = []): Omit<InputCase, "id" | "family"> => ({
  what,
  files: [{ path: TASK, content: yamlText }],
  args: ["run", TASK, ...extraArgs],
  expectExit: 2,
});

const mutated = (path: string, value: unknown, what = `${path}: ${JSON.stringify(value) ?? String(value)}`) =>
  taskCase(what, stringify(setPath(baseTask(), path, value)));

// Fields by type, with values of the wrong type for each (zod does not coerce).
const STRING_FIELDS = [
  "name",
  "run",
  "workdir",
  "setup",
  "resources.instance_type",
  "resources.region",
  "resources.zone",
  "resources.image",
  "checkpoint.dir",
  "checkpoint.store",
  "checkpoint.hook",
  "recovery.deadline",
];
const NUMBER_FIELDS = [
  "num_nodes",
  "resources.max_price",
  "resources.disk",
  "resources.min_reliability",
  "resources.market.seed",
  "resources.market.refuse_spot",
  "checkpoint.keep",
  "recovery.max_restarts",
  "recovery.max_restarts_on_errors",
  "recovery.on_demand_after",
  "budget.max_cost",
  "budget.max_hourly",
];
const BOOLEAN_FIELDS = ["resources.spot", "resources.fallback_on_demand", "recovery.prelaunch_on_rebalance"];
const MAP_FIELDS = ["resources", "checkpoint", "recovery", "budget", "envs", "resources.market"];
const DURATION_FIELDS = [
  "resources.market.notice",
  "resources.market.mtbi",
  "resources.market.provisioning_delay",
  "checkpoint.hook_timeout",
  "checkpoint.stall_warning",
  "recovery.window",
  "recovery.restart_overhead",
  "recovery.decision_interval",
  "recovery.block_zone_for",
];

function wrongType(rand: Random) {
  const kind = pick(rand, ["string", "number", "boolean", "map", "env", "list-item"] as const);
  if (kind === "string") return mutated(pick(rand, STRING_FIELDS), pick(rand, [42, -1.5, true, false, ["a"], { k: "v" }, null]));
  if (kind === "number") return mutated(pick(rand, NUMBER_FIELDS), pick(rand, ["abc", "12", "", true, [1], { n: 1 }, null]));
  if (kind === "boolean") return mutated(pick(rand, BOOLEAN_FIELDS), pick(rand, ["yes", "true", "on", 1, 0, [true], null]));
  if (kind === "map") return mutated(pick(rand, MAP_FIELDS), pick(rand, ["str", 5, [1, 2], true]));
  if (kind === "env") return mutated(`envs.${pick(rand, ["A", "X_Y", "k"])}`, pick(rand, [[1], { a: 1 }, null]));
  return mutated("resources.market.interrupt_after", pick(rand, [[{ a: 1 }], [[1]], [true], "30s"]));
}

/** Numbers a field's schema must refuse: out of range, not whole, not finite. */
function badNumber(rand: Random) {
  const cases: [string, unknown][] = [
    ["num_nodes", pick(rand, [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, -1e308])],
    ["resources.max_price", pick(rand, [0, -0.01, Number.NaN, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY])],
    ["resources.disk", pick(rand, [0, -10, Number.NaN, Number.POSITIVE_INFINITY])],
    ["resources.min_reliability", pick(rand, [-0.1, 1.5, 1e300, Number.NaN])],
    ["resources.market.seed", pick(rand, [1.5, Number.NaN, Number.POSITIVE_INFINITY])],
    ["resources.market.refuse_spot", pick(rand, [-1, 0.5, Number.NaN])],
    ["resources.market.time_scale", pick(rand, [0, -2, Number.NaN])],
    ["checkpoint.keep", pick(rand, [0, -3, 2.5, Number.NaN, Number.POSITIVE_INFINITY])],
    ["recovery.max_restarts", pick(rand, [-1, 0.5, Number.NaN, Number.POSITIVE_INFINITY])],
    ["recovery.on_demand_after", pick(rand, [0, -2, 1.25])],
    ["budget.max_cost", pick(rand, [0, -5, Number.NaN, Number.POSITIVE_INFINITY])],
    ["budget.max_hourly", pick(rand, [0, -1, Number.NaN])],
    ["array.count", pick(rand, [0, -1, 2.5, Number.NaN])],
  ];
  const [path, value] = pick(rand, cases);
  return mutated(path, value, `${path}: ${String(value)}`);
}

/** Numbers within the type that no real run can mean: must be bounded (they are not yet; see DISABLED). */
function hugeNumber(rand: Random) {
  const [path, value] = pick(rand, [
    ["num_nodes", pick(rand, [1e6, 1e9, 2 ** 53])],
    ["array.count", pick(rand, [1e6, 1e9])],
    ["checkpoint.keep", pick(rand, [1e9, 2 ** 53])],
    ["recovery.max_restarts", pick(rand, [1e12, 2 ** 53])],
    ["resources.disk", pick(rand, [1e12, 1e300])],
    ["resources.max_price", pick(rand, [1e300, 1e12])],
  ] as [string, number][]);
  return mutated(path, value, `${path}: ${value}`);
}

function badDuration(rand: Random) {
  const value = pick(rand, [
    "5 parsecs",
    "-3s",
    "",
    "s",
    "3 s s",
    "1h 30m",
    "NaNs",
    "1e3s",
    "3sec",
    "PT2M",
    "2m-1s",
    -5,
    Number.NaN,
    Number.NEGATIVE_INFINITY,
    true,
    ["30s"],
    { s: 3 },
  ]);
  const inList = rand() < 0.25;
  return inList
    ? mutated("resources.market.interrupt_after", ["10s", value], `market.interrupt_after: [10s, ${JSON.stringify(value)}]`)
    : mutated(pick(rand, DURATION_FIELDS), value, `duration ${JSON.stringify(value)}`);
}

/** Durations of a form the parser takes but too long for any timer (they must be bounded). */
function hugeDuration(rand: Random) {
  return mutated(pick(rand, DURATION_FIELDS), pick(rand, ["99999999999999999999h", "1e308", 1e300, "9007199254740993d"]));
}

function badEnum(rand: Random) {
  const [path, value] = pick(rand, [
    ["resources.provider", pick(rand, ["azure", "LOCAL", "", "local ", "aws,gcp"])],
    ["resources.on_interruption", pick(rand, ["explode", "Checkpoint", "hibernate!"])],
    ["recovery.strategy", pick(rand, ["pray", "SAME", "fail over"])],
    ["recovery.deadline_policy", pick(rand, ["fastest", ""])],
    ["resources.market.ssh", pick(rand, ["telnet", "yes"])],
  ] as [string, string][]);
  return mutated(path, value);
}

function unknownField(rand: Random) {
  const path = pick(rand, [
    "rn",
    "Run",
    "resources.instance_typ",
    "resources.spots",
    "checkpoint.directory",
    "recovery.max_retries",
    "budget.max_usd",
    "resources.market.interrupt",
    "resources.aws.vpc",
  ]);
  return mutated(path, "x", `unknown field ${path}`);
}

function badName(rand: Random) {
  return mutated(
    "name",
    pick(rand, ["", "-lead", "has space", "a/b", "x".repeat(64), "naïve", "semi;colon", "new\nline", "tab\tname"]),
  );
}

function yamlSyntax(rand: Random) {
  const text = stringify(baseTask());
  const broken = pick(rand, [
    () => "name: fuzz\nrun: [exit 0\n",
    () => "name: fuzz\nrun: {a: 1\n",
    () => 'name: "unterminated\nrun: exit 0\n',
    () => "name: fuzz\n\trun: exit 0\n",
    () => "name: fuzz\nrun: exit 0\nrun: exit 1\n",
    () => "name: fuzz\n  run: exit 0\n resources: x\n",
    () => "name: : fuzz\nrun: exit 0\n",
    () => "name: fuzz\nrun: exit 0\n---\nname: second\nrun: exit 0\n",
    () => "- run: exit 0\n- run: exit 1\n",
    () => "just a string\n",
    () => "42\n",
    () => "run: !!binary notbase64!\n",
    // A valid file cut at a random point, then made invalid for sure with a dangling flow start.
    () => `${text.slice(0, between(rand, 1, text.length - 1))}\n: [\n`,
  ])();
  return taskCase(`YAML: ${JSON.stringify(broken.slice(0, 40))}`, broken);
}

/** Aliases: a bomb (billion laughs), an unresolved alias, a circular one, a merge of a scalar. */
function aliases(rand: Random) {
  const kind = pick(rand, ["bomb", "unresolved", "circular", "merge"] as const);
  if (kind === "bomb") {
    const levels = between(rand, 6, 9);
    const lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i <= levels; i++)
      lines.push(
        `a${i}: &a${i} [${Array(9)
          .fill(`*a${i - 1}`)
          .join(",")}]`,
      );
    return taskCase(`alias bomb of ${levels} levels`, `run: exit 0\nenvs:\n${lines.map((l) => `  ${l}`).join("\n")}\n`);
  }
  if (kind === "unresolved") return taskCase("unresolved alias", "name: fuzz\nrun: *nowhere\n");
  if (kind === "circular") return taskCase("circular alias", "run: exit 0\nenvs: &e\n  self: *e\n");
  return taskCase("merge of a scalar", "base: &b 5\nrun: exit 0\nresources:\n  <<: *b\n");
}

/** Files that are not text at all. */
function encoding(rand: Random) {
  const kind = pick(rand, ["random", "utf16"] as const);
  if (kind === "random") {
    const bytes = Buffer.alloc(between(rand, 16, 512));
    for (let i = 0; i < bytes.length; i++) bytes[i] = 0x80 + Math.floor(rand() * 0x80);
    return taskCase(`${bytes.length} random high bytes`, Buffer.concat([Buffer.from("run: exit 0\nname: "), bytes]));
  }
  return taskCase("UTF-16 with a BOM", Buffer.from("\ufeffname: fuzz\nrun: exit 0\n", "utf16le"));
}

/**
 * A valid task but for a few bytes that are not UTF-8 (or a NUL, which no command line can
 * carry): it must be refused, not read with replacement characters and run.
 */
function nonUtf8(rand: Random) {
  const kind = pick(rand, ["latin1", "overlong", "nul", "truncated"] as const);
  const body = (bytes: number[]) =>
    Buffer.concat([Buffer.from("name: fuzz\nrun: echo caf"), Buffer.from(bytes), Buffer.from("\n")]);
  if (kind === "latin1") return taskCase("a Latin-1 byte in a value", body([0xe9]));
  if (kind === "overlong") return taskCase("an overlong encoding", body([0xc0, 0xaf]));
  if (kind === "truncated") return taskCase("a truncated sequence", body([0xe2, 0x82]));
  return taskCase("a NUL byte in run", body([0x00]));
}

/** A complex YAML key (a list as a key): one line, and no Node warning after it. */
function complexKey(rand: Random) {
  return taskCase("a complex key", pick(rand, ["run: exit 0\n? [complex, key]\n: value\n", "run: exit 0\n? {a: 1}\n: v\n"]));
}

/** Big inputs must be refused quickly by size, not parsed for minutes. */
function hugeFile(rand: Random) {
  const kind = pick(rand, ["keys", "bytes", "deep"] as const);
  if (kind === "keys") {
    const n = between(rand, 40_000, 60_000);
    return taskCase(`${n} top-level keys`, `run: exit 0\n${Array.from({ length: n }, (_, i) => `k${i}: ${i}`).join("\n")}\n`);
  }
  if (kind === "bytes") {
    const mb = between(rand, 9, 12);
    return taskCase(`a ${mb} MB value`, `run: exit 0\nsetup: "${"x".repeat(mb * 1024 * 1024)}"\n`);
  }
  const depth = between(rand, 20_000, 40_000);
  return taskCase(`${depth} nested lists`, `run: exit 0\nenvs: ${"[".repeat(depth)}${"]".repeat(depth)}\n`);
}

/** Task paths that do not name a readable file (exit 3), or name one in odd ways. */
function oddPath(rand: Random) {
  const kind = pick(rand, ["missing", "spaces", "unicode", "newline", "dir", "devnull", "dash", "long", "empty-file"] as const);
  const missing = (p: string): Omit<InputCase, "id" | "family"> => ({
    what: `missing file ${JSON.stringify(p)}`,
    files: [],
    args: ["run", p],
    expectExit: 3,
  });
  if (kind === "missing") return missing(pick(rand, ["nope.yaml", "sub/dir/task.yaml", "../../../nope.yaml"]));
  if (kind === "spaces") return missing("my task (copy).yaml");
  if (kind === "unicode") return missing("tâche-😀.yaml");
  if (kind === "newline") return missing("task\nname.yaml");
  if (kind === "long") return missing(`${"d".repeat(300)}.yaml`);
  const c = (what: string, files: InputCase["files"], args: string[], expectExit: 2 | 3) => ({ what, files, args, expectExit });
  if (kind === "dir") return c("a directory", [{ path: "adir/.keep", content: "" }], ["run", "adir"], 3);
  if (kind === "devnull") return c("/dev/null (empty)", [], ["run", "/dev/null"], 2);
  if (kind === "dash") return c("a path that looks like a flag", [], ["run", "--task.yaml"], 2);
  return c("an empty file", [{ path: "empty.yaml", content: "" }], ["run", "empty.yaml"], 2);
}

/**
 * The CLI's own parse errors: unknown option or command, missing or extra argument. (No command
 * at all prints the help with its error, by design, so it is not a one-line case.)
 */
function commanderErrors(rand: Random): Omit<InputCase, "id" | "family"> {
  const file = { path: TASK, content: stringify(baseTask()) };
  const [what, args] = pick(rand, [
    ["unknown option", ["run", TASK, "--bogus"]],
    ["unknown global option", ["--frobnicate", "status"]],
    ["missing argument", ["run"]],
    ["missing option value", ["run", TASK, "--name"]],
    ["extra argument", ["status", "a", "b"]],
    ["unknown command", ["frobnicate"]],
    ["unknown subcommand", ["session", "frobnicate"]],
    ["unknown option of a group's command", ["session", "list", "--bogus"]],
    ["misspelled command", ["stauts"]],
  ] as [string, string[]][]);
  return { what, files: [file], args, expectExit: 2 };
}

/** Numeric and duration flags of `run` (and a few others) given nonsense. */
function badFlag(rand: Random): Omit<InputCase, "id" | "family"> {
  const file = { path: TASK, content: stringify(baseTask()) };
  const [flag, value] = pick(rand, [
    ["--max-price", pick(rand, ["abc", "-1", "0", "NaN", ""])],
    ["--num-nodes", pick(rand, ["abc", "0", "-2", "1.5", "NaN"])],
    ["--max-restarts", pick(rand, ["abc", "-1", "0.5"])],
    ["--max-cost", pick(rand, ["abc", "0", "-1", "Infinity"])],
    ["--max-hourly", pick(rand, ["abc", "-3"])],
    ["--provider", pick(rand, ["azure", ""])],
    ["--name", pick(rand, ["has space", "-x", ""])],
    ["--notice", pick(rand, ["soon", "-1s"])],
    ["--interrupt-every", pick(rand, ["often", "-8s", ""])],
  ] as [string, string][]);
  return { what: `${flag} ${JSON.stringify(value)}`, files: [file], args: ["run", TASK, `${flag}=${value}`], expectExit: 2 };
}

/** Flags whose bad values issue 17 items 2, 4, 7 and 8 are about (agentcli's fixes). */
function countFlags(rand: Random): Omit<InputCase, "id" | "family"> {
  const file = { path: TASK, content: stringify(baseTask()) };
  const args = pick(rand, [
    ["--count", pick(rand, ["abc", "1e9", "0", "-1", "2.5", "NaN"])],
    ["--spot-count", pick(rand, ["abc", "-1"]), "--count", "2"],
    ["--interrupt-every", "8s", "--interruptions", pick(rand, ["abc", "1e8", "1e10", "-1", "2.5"])],
  ]);
  return { what: args.join(" "), files: [file], args: ["run", TASK, "--detach", ...args], expectExit: 2 };
}

function badEnv(rand: Random): Omit<InputCase, "id" | "family"> {
  const file = { path: TASK, content: stringify(baseTask()) };
  const env = pick(rand, ["NOEQUALS", "=value", "A\nB=1", "", "=", "SP ACE=1"]);
  return { what: `--env ${JSON.stringify(env)}`, files: [file], args: ["run", TASK, "--env", env], expectExit: 2 };
}

/** A home that cannot be one: a regular file, or a store that is not a database. */
function badHome(rand: Random): Omit<InputCase, "id" | "family"> {
  if (rand() < 0.5)
    return {
      what: "--home names a regular file",
      files: [{ path: "afile", content: "x" }],
      args: ["status"],
      home: "afile",
      expectExit: 2,
    };
  return { what: "a corrupt state.db", files: [], args: ["status"], prepare: "corrupt-state-db", expectExit: 2 };
}

/** Things looked up that do not exist: exit 3 and one line. */
function notFound(rand: Random): Omit<InputCase, "id" | "family"> {
  const args = pick(rand, [
    ["status", "j-doesnotexist"],
    ["logs", "j-doesnotexist"],
    ["cancel", "j-doesnotexist"],
    ["cost", "j-doesnotexist"],
    ["download", "j-doesnotexist", "out"],
  ]);
  return { what: args.join(" "), files: [], args, expectExit: 3 };
}

/** Lookups issue 17 item 15 is about (the defects engineer's fix). */
function notFoundArrays(rand: Random): Omit<InputCase, "id" | "family"> {
  const args = pick(rand, [
    ["status", "--array", "a-nope"],
    ["status", "a-nope"],
  ]);
  return { what: args.join(" "), files: [], args, expectExit: 3 };
}

type Generator = (rand: Random) => Omit<InputCase, "id" | "family">;

/** Each family with its share of the cases (cases cycle through the families by weight). */
export const INPUT_FAMILIES: Record<string, { weight: number; make: Generator }> = {
  "wrong-type": { weight: 6, make: wrongType },
  "bad-number": { weight: 5, make: badNumber },
  "huge-number": { weight: 2, make: hugeNumber },
  "bad-duration": { weight: 4, make: badDuration },
  "huge-duration": { weight: 1, make: hugeDuration },
  "bad-enum": { weight: 3, make: badEnum },
  "unknown-field": { weight: 2, make: unknownField },
  "bad-name": { weight: 2, make: badName },
  "yaml-syntax": { weight: 4, make: yamlSyntax },
  aliases: { weight: 2, make: aliases },
  encoding: { weight: 1, make: encoding },
  "non-utf8": { weight: 2, make: nonUtf8 },
  "complex-key": { weight: 1, make: complexKey },
  "huge-file": { weight: 1, make: hugeFile },
  "odd-path": { weight: 3, make: oddPath },
  commander: { weight: 2, make: commanderErrors },
  "bad-flag": { weight: 3, make: badFlag },
  "count-flags": { weight: 2, make: countFlags },
  "bad-env": { weight: 1, make: badEnv },
  "bad-home": { weight: 1, make: badHome },
  "not-found": { weight: 2, make: notFound },
  "not-found-arrays": { weight: 1, make: notFoundArrays },
};

/** Case n of a family under a seed. */
export function inputCase(ref: CaseRef): InputCase {
  const family = ref.family.replace(/^input\//, "");
  const f = INPUT_FAMILIES[family];
  if (!f) throw new Error(`no input family ${family} (known: ${Object.keys(INPUT_FAMILIES).join(", ")})`);
  return { id: caseId(`input/${family}`, ref.seed, ref.n), family, ...f.make(caseRandom({ ...ref, family })) };
}

/** `total` cases spread over `families` by weight: the numbers of each family's cases. */
export function spread(total: number, families: readonly string[]): Map<string, number> {
  const weights = families.map((f) => INPUT_FAMILIES[f]?.weight ?? 0);
  const sum = weights.reduce((a, b) => a + b, 0);
  const out = new Map<string, number>();
  families.forEach((f, i) => {
    out.set(f, Math.max(1, Math.round((total * (weights[i] ?? 0)) / sum)));
  });
  return out;
}
