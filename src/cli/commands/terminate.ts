import { Option } from "commander";
import { PROVIDERS } from "../../spec/task-limits.js";
import { type CommandSpec, lazyRun } from "../command.js";

/**
 * `spotrun terminate ID…`: end instances started by `spotrun launch` or by a managed job (or any
 * the provider can reach). Each id goes to the provider the store recorded it under; one the store
 * does not know goes to `--provider` (default aws).
 */
export const terminateCommand: CommandSpec = {
  name: "terminate <ids...>",
  summary: "Terminate instances by id",
  examples: [
    "spotrun terminate i-0abc123def4567890",
    "spotrun terminate i-0abc123def4567890 i-0fed --region eu-west-1 --json",
    "spotrun terminate 8812345 --provider vast   # an instance spotrun did not start",
  ],
  options: (cmd) =>
    cmd
      .addOption(
        new Option("--provider <provider>", "for ids spotrun did not start: where they live (default aws)").choices([
          ...PROVIDERS,
        ]),
      )
      .option("--region <region>", "AWS region of the instances (default: AWS_REGION or the profile's)"),
  run: lazyRun(
    () => import("./terminate-actions.js"),
    (m) => m.terminate,
  ),
};
