import { z } from "zod";
import { TASK_DOCS } from "./field-docs.js";
import { taskSchema } from "./task-schema.js";

export type JsonSchema = {
  [k: string]: unknown;
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  description?: string;
};

/**
 * The JSON Schema of what a user writes (the input side: defaults are optional, durations are
 * strings or numbers), generated from the zod schemas the loader validates with, so it cannot
 * drift from what spotrun accepts. The schemas' own refinements (instance_type or
 * instance_types, market only on local) are checked by spotrun, not by the JSON Schema.
 */
export function taskJsonSchema(): JsonSchema {
  return jsonSchemaOf(taskSchema, TASK_DOCS, {
    $id: "urn:spotrun:schema:task",
    title: "spotrun task",
    description:
      "A task file for `spotrun run`: what to run (run, setup, workdir, envs), where (resources), how checkpoints are kept and how it recovers (checkpoint, recovery), and its budget. Only run is required.",
  });
}

/** A zod schema as a JSON Schema document, each field described from `docs`. */
export function jsonSchemaOf(schema: z.ZodType, docs: Record<string, string>, head: Record<string, string>): JsonSchema {
  const json = z.toJSONSchema(schema, { io: "input", target: "draft-2020-12" }) as JsonSchema;
  describe(json, "", docs);
  const { $schema, ...rest } = json;
  return { $schema, ...head, ...rest };
}

/** Puts each field's description in place, walking properties and list items by dotted path. */
function describe(node: JsonSchema, prefix: string, docs: Record<string, string>): void {
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    const path = `${prefix}${key}`;
    const doc = docs[path];
    if (doc) child.description = doc;
    describe(child, `${path}.`, docs);
    if (child.items) describe(child.items, `${path}.[].`, docs);
  }
}

/** Every dotted path a JSON Schema has (for the test that the descriptions name real fields). */
export function schemaPaths(node: JsonSchema, prefix = ""): string[] {
  return Object.entries(node.properties ?? {}).flatMap(([key, child]) => [
    `${prefix}${key}`,
    ...schemaPaths(child, `${prefix}${key}.`),
    ...(child.items ? schemaPaths(child.items, `${prefix}${key}.[].`) : []),
  ]);
}
