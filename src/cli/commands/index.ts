import type { CommandSpec } from "../command.js";
import { agentGuardCommand, agentRunCommand, agentWatchCommand } from "./agent.js";
import { cancelCommand } from "./cancel.js";
import { chaosInterruptCommand } from "./chaos.js";
import { controllerRunCommand } from "./controller.js";
import { costCommand } from "./cost.js";
import { listCommand } from "./list.js";
import { logsCommand } from "./logs.js";
import { runCommand } from "./run.js";
import { statusCommand } from "./status.js";

/** Every command, in the order `--help` lists them. */
export const commands: CommandSpec[] = [
  runCommand,
  statusCommand,
  logsCommand,
  cancelCommand,
  costCommand,
  listCommand,
  chaosInterruptCommand,
  controllerRunCommand,
  agentRunCommand,
  agentWatchCommand,
  agentGuardCommand,
];
