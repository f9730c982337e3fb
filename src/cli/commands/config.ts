import { type CommandSpec, lazyRun } from "../command.js";

export const configShowCommand: CommandSpec = {
  name: "config show",
  summary: "Print the effective settings (home, state store, defaults from ~/.spotrun/config.yaml) and where each came from",
  examples: [
    "spotrun config show",
    "spotrun config show --json",
    "SPOTRUN_CONFIG=./team.yaml spotrun config show",
    `# ~/.spotrun/config.yaml:
  #   resources: {provider: aws, region: us-east-1, spot: true, max_price: 0.5}
  #   checkpoint: {store: s3://my-bucket/ckpt}
  #   dashboard: {port: 8042}`,
  ],
  run: lazyRun(
    () => import("./config-actions.js"),
    (m) => m.configShow,
  ),
};
