import { type CommandSpec, lazyRun } from "../command.js";

export const listCommand: CommandSpec = {
  name: "list",
  summary: "List every instance spotrun launched (managed jobs and `spotrun launch`): spot marker, type, zone, price, age, cost",
  examples: [
    "spotrun list",
    "spotrun list --all --json",
    "spotrun list --provider aws        # only AWS instances, managed or launched",
    "spotrun list --provider aws,local",
  ],
  options: (cmd) =>
    cmd
      .option("-a, --all", "include instances that have ended")
      .option("--provider <kinds>", "only instances on these providers (comma-separated: local, aws, gcp, vast)"),
  run: lazyRun(
    () => import("./list-actions.js"),
    (m) => m.list,
  ),
};
