import { type CommandSpec, lazyRun } from "../command.js";

export const historyCommand: CommandSpec = {
  name: "history",
  summary: "Interruption history per capacity pool: instance-hours, preemptions, and the rate offers ranks with",
  examples: [
    "spotrun history",
    "spotrun history --provider aws --type g5.xlarge --since 30d",
    "spotrun history --zone us-east-1a --json",
    "spotrun history --min-hours 48      # a pool counts as measured only after 48 instance-hours",
  ],
  options: (cmd) =>
    cmd
      .option("--provider <kind>", "only this provider's pools")
      .option("--type <instance-type>", "only this instance type")
      .option("--zone <zone>", "only this zone")
      .option("--region <region>", "only this region (for Vast: the host's geolocation)")
      .option("--since <when>", "only time and preemptions since this long ago (30d) or this time (RFC 3339)")
      .option("--min-hours <h>", "instance-hours a pool needs before its measured rate is used", "24")
      .option("--assume-risk <per-hour>", "the prior: interruption risk per hour where nothing is known", "0.05"),
  run: lazyRun(
    () => import("./history-actions.js"),
    (m) => m.history,
  ),
};
