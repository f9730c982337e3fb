import { vastCommands } from "../../providers/vast/cli/vast-commands.js";
import type { CommandSpec } from "../command.js";
import { agentFollowCommand, agentGuardCommand, agentRunCommand, agentSaveCommand, agentWatchCommand } from "./agent.js";
import { cancelCommand } from "./cancel.js";
import { catalogUpdateCommand } from "./catalog.js";
import { chaosInterruptCommand } from "./chaos.js";
import { completionCommand } from "./completion.js";
import { configShowCommand } from "./config.js";
import { controllerRunCommand } from "./controller.js";
import { costCommand } from "./cost.js";
import { dashboardCommand } from "./dashboard.js";
import { downloadCommand } from "./download.js";
import { eventsCommand } from "./events.js";
import { historyCommand } from "./history.js";
import { launchCommand } from "./launch.js";
import { listCommand } from "./list.js";
import { logsCommand } from "./logs.js";
import { mcpCommand } from "./mcp.js";
import { offersCommand } from "./offers.js";
import { runCommand } from "./run.js";
import { schemaCommand } from "./schema.js";
import {
  sessionAttachCommand,
  sessionDestroyCommand,
  sessionListCommand,
  sessionLogsCommand,
  sessionResumeCommand,
  sessionStartCommand,
  sessionStopCommand,
} from "./session.js";
import { sessionSuperviseCommand } from "./session-supervise.js";
import { setupCommand } from "./setup.js";
import { simulateCommand } from "./simulate.js";
import { statusCommand } from "./status.js";
import { terminateCommand } from "./terminate.js";
import { volumeListCommand, volumeResizeCommand } from "./volume.js";

/** Every command, in the order `--help` lists them. */
export const commands: CommandSpec[] = [
  runCommand,
  statusCommand,
  logsCommand,
  eventsCommand,
  cancelCommand,
  costCommand,
  dashboardCommand,
  listCommand,
  downloadCommand,
  launchCommand,
  terminateCommand,
  offersCommand,
  historyCommand,
  sessionStartCommand,
  sessionListCommand,
  sessionAttachCommand,
  sessionLogsCommand,
  sessionStopCommand,
  sessionResumeCommand,
  sessionDestroyCommand,
  sessionSuperviseCommand,
  volumeListCommand,
  volumeResizeCommand,
  simulateCommand,
  catalogUpdateCommand,
  setupCommand,
  schemaCommand,
  completionCommand,
  mcpCommand,
  configShowCommand,
  ...vastCommands,
  chaosInterruptCommand,
  controllerRunCommand,
  agentRunCommand,
  agentWatchCommand,
  agentGuardCommand,
  agentSaveCommand,
  agentFollowCommand,
];
