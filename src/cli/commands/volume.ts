import { type CommandSpec, lazyRun } from "../command.js";

export const volumeListCommand: CommandSpec = {
  name: "volume list",
  summary: "List session volumes: size, bytes used, and a warning before one fills",
  examples: ["spotrun volume list", "spotrun volume list --json"],
  run: lazyRun(
    () => import("./volume-actions.js"),
    (m) => m.volumeList,
  ),
};

export const volumeResizeCommand: CommandSpec = {
  name: "volume resize <name> <size>",
  summary: "Grow a session's volume (never below what it holds); the running session sees the new size",
  examples: ["spotrun volume resize work 20GB", "spotrun volume resize work 1TiB --json"],
  run: lazyRun(
    () => import("./volume-actions.js"),
    (m) => m.volumeResize,
  ),
};
