import { type CommandSpec, lazyRun } from "../command.js";

export const downloadCommand: CommandSpec = {
  name: "download <job> <remote-path> [local-path]",
  summary: "Copy a file or directory from a job's running instance (relative to the instance's home)",
  examples: [
    "spotrun download j-lx2k9f3a1b2c workdir/outputs ./outputs",
    "spotrun download my-training workdir/metrics.json --node 1",
  ],
  options: (cmd) => cmd.option("--node <n>", "which node of a multi-node job", "0"),
  run: lazyRun(
    () => import("./download-actions.js"),
    (m) => m.download,
  ),
};
