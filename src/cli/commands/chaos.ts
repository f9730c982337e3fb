import { type CommandSpec, lazyRun } from "../command.js";

export const chaosInterruptCommand: CommandSpec = {
  name: "chaos interrupt <instance>",
  summary: "Send a spot interruption notice to a local instance; it is reclaimed when the notice ends",
  examples: ["spotrun chaos interrupt i-0a1b2c3d4e5f60718", "spotrun chaos interrupt i-0a1b2c3d4e5f60718 --notice 10s"],
  options: (cmd) => cmd.option("--notice <duration>", "time between the notice and the reclaim (default: the market's)"),
  run: lazyRun(
    () => import("./chaos-actions.js"),
    (m) => m.chaosInterrupt,
  ),
};
