import { type CommandSpec, lazyRun } from "../command.js";

export const cancelCommand: CommandSpec = {
  name: "cancel <jobs...>",
  summary: "Cancel jobs (or a whole job array): tear down their instances; checkpoints are kept",
  examples: ["spotrun cancel j-lx2k9f3a1b2c", "spotrun cancel my-training --no-wait", "spotrun cancel arr-lx2k9f3a1b2c"],
  options: (cmd) => cmd.option("--no-wait", "return once recorded, without waiting for the teardown"),
  run: lazyRun(
    () => import("./cancel-actions.js"),
    (m) => m.cancel,
  ),
};
