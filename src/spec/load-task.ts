import { dirname, isAbsolute, resolve } from "node:path";
import type { ZodError } from "zod";
import { usageError } from "../base/errors.js";
import { withArgs } from "./quick-task.js";
import { quoteField, readSettingsFile, readYaml } from "./read-yaml.js";
import { type Task, taskSchema } from "./task-schema.js";

/** A task as loaded: the validated spec plus where it came from, so relative paths resolve. */
export interface LoadedTask {
  task: Task;
  file: string | undefined;
  baseDir: string;
  /** What errors about it name: the path as given, or the name of a task object. */
  source?: string;
  /** Fields a flag set (`resources.instance_type` → `--instance-type`): errors about them name the flag. */
  flags?: Record<string, string>;
  /** The document as validated (the file or object with overrides, arguments and defaults): what `--print-task` prints. */
  doc?: Record<string, unknown>;
}

/** How a task is put together from its source: flag overrides, arguments appended to run, defaults. */
export interface LoadOptions {
  overrides?: Overrides;
  /** Appended to `run`, each quoted for the shell (`spotrun run task.yaml -- --lr 3e-4`). */
  args?: readonly string[];
  defaults?: Defaults;
}

/** The first zod issue as `file: field: what is wrong (allowed: …)`, on one line whatever the names hold. */
export function describeZodError(err: ZodError, file: string): string {
  const { field, what } = describeIssue(err);
  return `${file}: ${field}: ${what}`;
}

/** The first zod issue's field (dotted, names quoted when they are not words) and what is wrong with it. */
export function describeIssue(err: ZodError): { field: string; what: string } {
  const issue = err.issues[0];
  if (!issue) return { field: "(top level)", what: "invalid" };
  const field = issue.path.length
    ? issue.path.map((p) => (typeof p === "number" ? String(p) : quoteField(String(p)))).join(".")
    : "(top level)";
  let what = issue.message;
  if (issue.code === "invalid_value")
    what = `got ${describeValue(issue.input)}, allowed: ${issue.values.map(String).join(" | ")}`;
  else if (issue.code === "unrecognized_keys")
    what = `unknown field${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map(quoteField).join(", ")}`;
  else if (issue.code === "invalid_type" && issue.input !== undefined)
    what = `expected ${issue.expected}, got ${describeValue(issue.input, true)}`;
  else if (issue.code === "invalid_key") what = issue.issues[0]?.message ?? "not a valid key";
  return { field, what };
}

/** A value in an error: short, one line, and saying what it is (`string "maybe"`, `null`, `a mapping`). */
export function describeValue(v: unknown, withType = false): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  const text = typeof v === "string" ? JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v) : String(v);
  return withType ? `${typeof v} ${text}` : text;
}

export function parseTask(raw: unknown, file: string, flags: Record<string, string> = {}): Task {
  const parsed = taskSchema.safeParse(raw ?? {}, { reportInput: true });
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const flag = issue ? flagFor(issue.path.map(String).join("."), flags) : undefined;
  if (flag) {
    // The field is the flag's: say what is wrong with the flag, not with the file.
    throw usageError(`${flag}: ${describeIssue(parsed.error).what}`, `fix ${flag} (see \`spotrun run --help\`)`);
  }
  throw usageError(describeZodError(parsed.error, file), "fix the task file (see `spotrun run --help`)");
}

/** The flag that set this field or a field it lies in. */
export function flagFor(field: string, flags: Record<string, string>): string | undefined {
  for (const [path, flag] of Object.entries(flags)) if (field === path || field.startsWith(`${path}.`)) return flag;
  return undefined;
}

/** A value a flag gave: errors about its field then name the flag, not the file. */
export class FlagValue {
  constructor(
    readonly flag: string,
    readonly value: unknown,
  ) {}
}

/**
 * Dotted overrides from CLI flags (`resources.spot` → false) applied to the raw document before
 * validation; a value may be a `FlagValue` naming the flag it came from.
 */
export type Overrides = Record<string, unknown>;

function applyOverrides(doc: Record<string, unknown>, overrides: Overrides): Record<string, string> {
  const flags: Record<string, string> = {};
  for (const [path, given] of Object.entries(overrides)) {
    const value = given instanceof FlagValue ? given.value : given;
    if (value === undefined) continue;
    if (given instanceof FlagValue) flags[path] = given.flag;
    const keys = path.split(".");
    let cur: Record<string, unknown> = doc;
    for (const k of keys.slice(0, -1)) {
      const next = cur[k];
      if (typeof next !== "object" || next === null) cur[k] = {};
      cur = cur[k] as Record<string, unknown>;
    }
    cur[keys[keys.length - 1] as string] = value;
  }
  return flags;
}

/** Fills what the task leaves out (the user config's defaults); applied after the flags' overrides. */
export type Defaults = (raw: Record<string, unknown>) => Record<string, unknown>;

export async function loadTaskFile(path: string, opts: LoadOptions = {}): Promise<LoadedTask> {
  const file = resolve(path);
  const text = await readSettingsFile(path, "task file");
  const raw = readYaml(text, path, "task file") ?? {};
  if (typeof raw !== "object" || Array.isArray(raw))
    throw usageError(`${path}: a task file must be a YAML mapping`, "see examples/quickstart/task.yaml");
  return assemble(raw as Record<string, unknown>, path, opts, { file, baseDir: dirname(file) });
}

/**
 * A task given as an object (the library API, the MCP server, a quick run): validated by the same
 * schema as a file, its errors naming `name` where a file's name its path; relative paths resolve
 * from `baseDir`.
 */
export function loadTaskObject(raw: unknown, opts: LoadOptions & { name?: string; baseDir: string }): LoadedTask {
  const name = opts.name ?? "task";
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    throw usageError(`${name}: a task must be an object with at least \`run\``, "see examples/quickstart/task.yaml");
  return assemble(structuredClone(raw) as Record<string, unknown>, name, opts, {
    file: undefined,
    baseDir: resolve(opts.baseDir),
  });
}

function assemble(
  raw: Record<string, unknown>,
  source: string,
  opts: LoadOptions,
  where: { file: string | undefined; baseDir: string },
): LoadedTask {
  const flags = applyOverrides(raw, opts.overrides ?? {});
  if (opts.args?.length && typeof raw.run === "string") raw.run = withArgs(raw.run, opts.args);
  const doc = opts.defaults ? opts.defaults(raw) : raw;
  return withPaths({ task: parseTask(doc, source, flags), ...where, source, flags, doc });
}

function withPaths(loaded: LoadedTask): LoadedTask {
  // The trace is read by the controller and by instance hosts, from other directories than ours.
  const market = loaded.task.resources.market;
  if (market?.trace && !isAbsolute(market.trace)) market.trace = resolve(loaded.baseDir, market.trace);
  return loaded;
}

export function parseTaskText(text: string, name: string, overrides: Overrides = {}, defaults?: Defaults): Task {
  const raw = readYaml(text, name, "task file") ?? {};
  if (typeof raw !== "object" || Array.isArray(raw))
    throw usageError(`${name}: a task file must be a YAML mapping`, "see examples/quickstart/task.yaml");
  const flags = applyOverrides(raw as Record<string, unknown>, overrides);
  return parseTask(defaults ? defaults(raw as Record<string, unknown>) : raw, name, flags);
}
