import { RESOURCE_DOCS } from "../spec/field-docs.js";
import { type JsonSchema, jsonSchemaOf } from "../spec/json-schema.js";
import { sessionFileSchema } from "./session-schema.js";

const DURATION = "A duration: 90s, 60m, 48h, 1h30m, or seconds as a number.";

/** What each field of a session file means (see spec/field-docs.ts). */
export const SESSION_DOCS: Record<string, string> = {
  ...RESOURCE_DOCS,
  name: "Session name (letters, digits, '_', '-'; at most 40).",
  persist: "Paths (~/… on the instance, or absolute) kept on the session's volume across preemptions.",
  agents: "Named agents, each in its own tmux window, restarted after a recovery.",
  "agents.[].name": "Agent name (it names the tmux window).",
  "agents.[].command": "Command of the agent's first start on a fresh volume.",
  "agents.[].resume_command": "Command of every later start (after a preemption or session resume); default command.",
  "agents.[].stop_keys": "Keys sent into the pane instead of SIGTERM, in tmux send-keys syntax (C-c, /exit, Enter).",
  store:
    "Checkpoint store for the session's snapshots: file:///path, s3://bucket/prefix or gs://bucket/prefix (under <store>/sessions/<name>/, one folder per job of the session); default a file store under the spotrun home.",
  snapshot_interval: `How often the volume is snapshotted to the checkpoint store. ${DURATION}`,
  save_budget: `The most a final save may take on a notice. ${DURATION}`,
  volume: "The session's volume.",
  "volume.size": "Volume size, e.g. 10GB or 512MB.",
  max_restarts: "Recoveries before the session fails.",
};

/** The JSON Schema of a session file, from the schema its loader validates with. */
export function sessionJsonSchema(): JsonSchema {
  return jsonSchemaOf(sessionFileSchema, SESSION_DOCS, {
    $id: "urn:spotrun:schema:session",
    title: "spotrun session",
    description:
      "A session file for `spotrun session start NAME --task FILE`: named agents in tmux on a spot instance, their state (persist) on a volume that survives preemption. persist and agents are required.",
  });
}
