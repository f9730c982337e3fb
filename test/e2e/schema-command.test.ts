import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, before, test } from "node:test";
import { Ajv2020 } from "ajv/dist/2020.js";
import { parse } from "yaml";
import { SESSION_DOCS } from "../../src/sessions/session-json-schema.js";
import { parseSessionText } from "../../src/sessions/session-schema.js";
import { TASK_DOCS } from "../../src/spec/field-docs.js";
import { type JsonSchema, schemaPaths } from "../../src/spec/json-schema.js";
import { parseTaskText } from "../../src/spec/load-task.js";
import { repoRoot, spotrun } from "../support-cli/spotrun-cli.js";

/** Every task or session the repository shows a user: example files and the ```yaml blocks of the docs. */
function exampleDocuments(): { where: string; text: string; kind: "task" | "session" }[] {
  const out: { where: string; text: string; kind: "task" | "session" }[] = [];
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
  const kindOf = (doc: unknown) =>
    doc && typeof doc === "object" && "agents" in doc
      ? "session"
      : doc && typeof doc === "object" && "run" in doc
        ? "task"
        : undefined;
  for (const file of walk(join(repoRoot, "examples")).filter((f) => /\.ya?ml$/.test(f))) {
    const text = readFileSync(file, "utf8");
    const kind = kindOf(parse(text));
    if (kind) out.push({ where: relative(repoRoot, file), text, kind });
  }
  for (const file of [join(repoRoot, "README.md"), ...walk(join(repoRoot, "docs")).filter((f) => f.endsWith(".md"))]) {
    const md = readFileSync(file, "utf8");
    for (const [i, m] of [...md.matchAll(/```yaml\n([\s\S]*?)```/g)].entries()) {
      const text = m[1] as string;
      const kind = kindOf(parse(text));
      if (kind) out.push({ where: `${relative(repoRoot, file)} yaml block ${i + 1}`, text, kind });
    }
  }
  return out;
}

let home: string;
let schemas: Record<"task" | "session", JsonSchema>;
before(async () => {
  home = await mkdtemp(join(tmpdir(), "spotrun-schema-"));
  const [task, session] = await Promise.all([spotrun(home, ["schema", "task"]), spotrun(home, ["schema", "session"])]);
  assert.equal(task.code, 0, task.stderr);
  assert.equal(session.code, 0, session.stderr);
  schemas = { task: JSON.parse(task.stdout), session: JSON.parse(session.stdout) };
});
after(async () => rm(home, { recursive: true, force: true }));

test("every example task and session in the repository validates against the printed schema, and loads", () => {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  const validate = { task: ajv.compile(schemas.task), session: ajv.compile(schemas.session) };
  const docs = exampleDocuments();
  assert.ok(docs.filter((d) => d.kind === "task").length >= 3, `found ${docs.map((d) => d.where).join(", ")}`);
  assert.ok(docs.some((d) => d.kind === "session"));
  for (const d of docs) {
    const ok = validate[d.kind](parse(d.text));
    assert.ok(ok, `${d.where}: ${ajv.errorsText(validate[d.kind].errors)}`);
    // The loader agrees: the schema is the one it validates with.
    if (d.kind === "task") parseTaskText(d.text, d.where);
    else parseSessionText(d.text, d.where);
  }
});

test("the printed schema refuses what the loader refuses: a bad provider, an unknown field, a missing run", () => {
  const ajv = new Ajv2020({ strict: false });
  const validate = ajv.compile(schemas.task);
  assert.ok(validate({ run: "x" }));
  assert.ok(!validate({ run: "x", resources: { provider: "azure" } }));
  assert.ok(!validate({ run: "x", chekpoint: {} }));
  assert.ok(!validate({ name: "no-run" }));
  assert.ok(!validate({ run: "x", envs: { "BAD NAME": "1" } }));
});

test("every field is described, and every description names a field", () => {
  for (const [kind, docs] of [
    ["task", TASK_DOCS],
    ["session", SESSION_DOCS],
  ] as const) {
    const paths = schemaPaths(schemas[kind]);
    assert.deepEqual(
      Object.keys(docs).filter((p) => !paths.includes(p)),
      [],
      `${kind}: descriptions of no field`,
    );
    assert.deepEqual(
      paths.filter((p) => !docs[p]),
      [],
      `${kind}: fields without a description`,
    );
  }
});
