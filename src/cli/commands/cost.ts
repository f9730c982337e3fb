import { type CommandSpec, lazyRun } from "../command.js";

export const costCommand: CommandSpec = {
  name: "cost [job]",
  summary: "What jobs cost, what on-demand would have cost, and the savings (per job, array and total)",
  examples: ["spotrun cost", "spotrun cost j-lx2k9f3a1b2c --json", "spotrun cost arr-lx2k9f3a1b2c"],
  run: lazyRun(
    () => import("./cost-actions.js"),
    (m) => m.cost,
  ),
};
