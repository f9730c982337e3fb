import { readFile } from "node:fs/promises";
import { dirname, isAbsolute, resolve } from "node:path";
import { parseDocument } from "yaml";
import type { ZodError } from "zod";
import { SpotrunError, usageError } from "../base/errors.js";
import { type Task, taskSchema } from "./task-schema.js";

/** A task as loaded: the validated spec plus where it came from, so relative paths resolve. */
export interface LoadedTask {
  task: Task;
  file: string | undefined;
  baseDir: string;
}

/** The first zod issue as `file: field: what is wrong (allowed: …)`. */
export function describeZodError(err: ZodError, file: string): string {
  const issue = err.issues[0];
  if (!issue) return `${file}: invalid task`;
  const field = issue.path.length ? issue.path.join(".") : "(top level)";
  let msg = issue.message;
  if (issue.code === "invalid_value")
    msg = `got ${JSON.stringify(issue.input)}, allowed: ${issue.values.map(String).join(" | ")}`;
  else if (issue.code === "unrecognized_keys") msg = `unknown field${issue.keys.length > 1 ? "s" : ""} ${issue.keys.join(", ")}`;
  else if (issue.code === "invalid_type" && issue.input !== undefined)
    msg = `expected ${issue.expected}, got ${Array.isArray(issue.input) ? "array" : typeof issue.input} ${JSON.stringify(issue.input)}`;
  return `${file}: ${field}: ${msg}`;
}

export function parseTask(raw: unknown, file: string): Task {
  const parsed = taskSchema.safeParse(raw ?? {}, { reportInput: true });
  if (!parsed.success) throw usageError(describeZodError(parsed.error, file), "fix the task file (see `spotrun run --help`)");
  return parsed.data;
}

/** Dotted overrides from CLI flags (`resources.spot=false`) applied to the raw document before validation. */
export type Overrides = Record<string, unknown>;

function applyOverrides(doc: Record<string, unknown>, overrides: Overrides): Record<string, unknown> {
  for (const [path, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    const keys = path.split(".");
    let cur: Record<string, unknown> = doc;
    for (const k of keys.slice(0, -1)) {
      const next = cur[k];
      if (typeof next !== "object" || next === null) cur[k] = {};
      cur = cur[k] as Record<string, unknown>;
    }
    cur[keys[keys.length - 1] as string] = value;
  }
  return doc;
}

/** Fills what the task leaves out (the user config's defaults); applied after the flags' overrides. */
export type Defaults = (raw: Record<string, unknown>) => Record<string, unknown>;

export async function loadTaskFile(path: string, overrides: Overrides = {}, defaults?: Defaults): Promise<LoadedTask> {
  const file = resolve(path);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    throw new SpotrunError("not_found", `cannot read task file ${path}`, {
      fix: "check the path",
      code: (e as NodeJS.ErrnoException).code,
    });
  }
  return withPaths(parseTaskText(text, path, overrides, defaults), file, dirname(file));
}

/**
 * A task given as an object (the library API, the MCP server): validated by the same schema as a
 * file, its errors naming `name` where a file's name its path; relative paths resolve from `baseDir`.
 */
export function loadTaskObject(
  raw: unknown,
  opts: { name?: string; baseDir: string; overrides?: Overrides; defaults?: Defaults },
): LoadedTask {
  const name = opts.name ?? "task";
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    throw usageError(`${name}: a task must be an object with at least \`run\``, "see examples/quickstart/task.yaml");
  const doc = applyOverrides(structuredClone(raw) as Record<string, unknown>, opts.overrides ?? {});
  return withPaths(parseTask(opts.defaults ? opts.defaults(doc) : doc, name), undefined, resolve(opts.baseDir));
}

function withPaths(task: Task, file: string | undefined, baseDir: string): LoadedTask {
  // The trace is read by the controller and by instance hosts, from other directories than ours.
  const market = task.resources.market;
  if (market?.trace && !isAbsolute(market.trace)) market.trace = resolve(baseDir, market.trace);
  return { task, file, baseDir };
}

export function parseTaskText(text: string, name: string, overrides: Overrides = {}, defaults?: Defaults): Task {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length) {
    const e = doc.errors[0];
    const where = e?.linePos?.[0] ? `:${e.linePos[0].line}:${e.linePos[0].col}` : "";
    throw usageError(`${name}${where}: invalid YAML: ${e?.message.split("\n")[0]?.replace(/:\s*$/, "")}`, "fix the YAML syntax");
  }
  const raw = doc.toJS() ?? {};
  if (typeof raw !== "object" || Array.isArray(raw))
    throw usageError(`${name}: a task file must be a YAML mapping`, "see examples/quickstart/task.yaml");
  const given = applyOverrides(raw as Record<string, unknown>, overrides);
  return parseTask(defaults ? defaults(given) : given, name);
}
