import { Option } from "commander";
import { PROVIDERS } from "../../spec/task-limits.js";
import { type CommandSpec, lazyRun } from "../command.js";

/** What an instance does on a spot interruption notice (`--on-interruption`). */
export const INTERRUPTION = ["checkpoint", "hibernate", "stop", "terminate"] as const;

export const launchCommand: CommandSpec = {
  name: "launch",
  summary: "Launch instances directly: spot or on-demand, several types, job arrays with K spot members",
  examples: [
    "spotrun launch --instance-type m7i.large --spot",
    "spotrun launch --instance-type m7i.large --spot --spot-max-price 0.05 --spot-fallback",
    "spotrun launch --instance-types m7i.large,m6i.large,m5.large --spot",
    "spotrun launch --count 8 --job-array-name training --spot --spot-count 6 --on-interruption checkpoint --checkpoint-script ./save_checkpoint.sh",
    "spotrun launch --instance-type g5.xlarge --spot --dry-run --json",
  ],
  options: (cmd) =>
    cmd
      .option("--instance-type <type>", "one instance type (default m7i.large on AWS)")
      .option("--instance-types <a,b,c>", "several types for better spot availability (one EC2 fleet request)")
      .option("--spot", "launch as spot instances")
      .option("--spot-max-price <usd>", "maximum spot price per hour (default: the on-demand price)")
      .option("--spot-fallback", "fall back to on-demand when spot is refused")
      .option("--count <n>", "number of instances (a job array)")
      .option("--job-array-name <name>", "name of the job array (needed with --count)")
      .option("--spot-count <k>", "in a job array: K spot members, the rest on-demand (implies --spot)")
      .addOption(
        new Option("--on-interruption <action>", "what the agent does on an interruption notice")
          .choices([...INTERRUPTION])
          .default("checkpoint"),
      )
      .option("--checkpoint-script <path|s3://…|https://…>", "aws: script the guard runs once on a notice (90 s timeout)")
      .option("--region <region>", "region (default: AWS_REGION or the profile's)")
      .option("--image <ami>", "image id (default: Ubuntu 24.04 LTS via its public SSM parameter)")
      .option("--key-name <name>", "EC2 key pair to log in with (default: a key spotrun generates and imports)")
      .addOption(new Option("--provider <provider>", "where to launch").choices([...PROVIDERS]).default("aws"))
      .option("--dry-run", "print the estimate and launch nothing"),
  run: lazyRun(
    () => import("./launch-actions.js"),
    (m) => m.launch,
  ),
};
