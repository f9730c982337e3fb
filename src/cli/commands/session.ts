import { type CommandSpec, lazyRun } from "../command.js";

export const sessionStartCommand: CommandSpec = {
  name: "session start <name>",
  summary:
    "Start a persistent session: named agents in tmux on a spot instance, their state on a volume that survives preemption",
  examples: [
    "spotrun session start work --task examples/sessions/session.yaml",
    "spotrun session start quick --persist ~/.agent-state --agent coder='my-agent' --volume-size 5GB",
    "spotrun session start work --task session.yaml --json",
  ],
  options: (cmd) =>
    cmd
      .option("--task <file>", "session YAML (resources, persist, agents, snapshot_interval, volume, save_budget)")
      .option("--persist <paths...>", "paths to keep on the volume (~/… or /…), without --task")
      .option("--agent <NAME=COMMAND...>", "an agent in its own tmux window (repeatable), without --task")
      .option("--provider <kind>", "local | aws | gcp | vast")
      .option("--instance-type <type>", "instance type")
      .option("--spot", "use spot capacity")
      .option("--no-spot", "use on-demand capacity")
      .option("--snapshot-interval <duration>", "how often the volume is snapshotted to the checkpoint store")
      .option("--volume-size <size>", "volume size such as 10GB"),
  run: lazyRun(
    () => import("./session-actions.js"),
    (m) => m.sessionStart,
  ),
};

export const sessionListCommand: CommandSpec = {
  name: "session list",
  summary: "List sessions: state, instance, uptime, interruptions, cost, and how long each was away after a recovery",
  examples: ["spotrun session list", "spotrun session list --json"],
  run: lazyRun(
    () => import("./session-actions.js"),
    (m) => m.sessionList,
  ),
};

export const sessionAttachCommand: CommandSpec = {
  name: "session attach <name> [agent]",
  summary: "Attach your terminal to a session's tmux (an agent's window); the same command works after every recovery",
  examples: [
    "spotrun session attach work",
    "spotrun session attach work reviewer",
    "spotrun session attach work coder --read-only",
  ],
  options: (cmd) => cmd.option("-r, --read-only", "watch without typing into the agents"),
  run: lazyRun(
    () => import("./session-actions.js"),
    (m) => m.sessionAttach,
  ),
};

export const sessionLogsCommand: CommandSpec = {
  name: "session logs <name>",
  summary: "A session's log: the supervisor's output and save steps from every instance, or an agent's screen",
  examples: ["spotrun session logs work", "spotrun session logs work --follow", "spotrun session logs work --agent coder"],
  options: (cmd) =>
    cmd
      .option("-f, --follow", "stream until the session stops")
      .option("--agent <name>", "print this agent's tmux screen and scrollback instead"),
  run: lazyRun(
    () => import("./session-actions.js"),
    (m) => m.sessionLogs,
  ),
};

export const sessionStopCommand: CommandSpec = {
  name: "session stop <name>",
  summary: "Stop a session: agents stopped, final snapshot, instance gone; the volume is kept for `session resume`",
  examples: ["spotrun session stop work", "spotrun session stop work --json"],
  run: lazyRun(
    () => import("./session-actions.js"),
    (m) => m.sessionStop,
  ),
};

export const sessionResumeCommand: CommandSpec = {
  name: "session resume <name>",
  summary: "Resume a stopped session on a new instance with the same volume; agents restart with their resume_command",
  examples: ["spotrun session resume work", "spotrun session resume work --task session.yaml   # with an edited spec"],
  options: (cmd) => cmd.option("--task <file>", "use this session YAML from now on"),
  run: lazyRun(
    () => import("./session-actions.js"),
    (m) => m.sessionResume,
  ),
};

export const sessionDestroyCommand: CommandSpec = {
  name: "session destroy <name>",
  summary: "Stop a session if it runs, then delete it and (after asking) its volume",
  examples: ["spotrun session destroy work", "spotrun session destroy work --yes"],
  options: (cmd) => cmd.option("-y, --yes", "delete the volume without asking"),
  run: lazyRun(
    () => import("./session-actions.js"),
    (m) => m.sessionDestroy,
  ),
};
