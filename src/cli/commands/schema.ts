import { Argument } from "commander";
import type { CommandSpec } from "../command.js";

export const schemaCommand: CommandSpec = {
  name: "schema",
  summary: "Print the JSON Schema of a task file or a session file (generated from the schema spotrun validates with)",
  examples: [
    "spotrun schema task > task.schema.json",
    "spotrun schema session",
    "spotrun schema task | jq '.properties.resources.properties | keys'",
  ],
  options: (cmd) => cmd.addArgument(new Argument("<kind>", "which file").choices(["task", "session"])),
  async run(_ctx, args) {
    const doc =
      args[0] === "session"
        ? (await import("../../sessions/session-json-schema.js")).sessionJsonSchema()
        : (await import("../../spec/json-schema.js")).taskJsonSchema();
    // One JSON document either way: the schema is data, with or without --json.
    return { data: doc, human: JSON.stringify(doc, null, 2) };
  },
};
