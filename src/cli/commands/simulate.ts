import { Option } from "commander";
import { type CommandSpec, lazyRun } from "../command.js";

export const simulateCommand: CommandSpec = {
  name: "simulate",
  summary: "replay spot availability traces through the placement policies on a virtual clock",
  examples: [
    "spotrun simulate --trace us-west-2a_v100_1.json --work 48h --deadline 60h --restart-overhead 12m --policy all",
    "spotrun simulate --trace a.json --trace b.json --work 48h --deadline 52h --policy uniform-progress --json   # zones a, b with failover",
    "spotrun simulate --trace traces/*.json --each --work 48h --deadline 70h --restart-overhead 3m",
    "spotrun simulate --trace a.json --work 48h --deadline 70h --policy ross --seed 7   # the randomized policy, one seed",
    "spotrun simulate --job my-rehearsal   # a deadline job on a replayed trace, beside simulate, tick by tick",
  ],
  options: (cmd) =>
    cmd
      .option("--trace <files...>", "availability trace(s) (JSON), one per zone, best first; repeatable")
      .option("--work <duration>", "compute time the job needs, e.g. 48h")
      .option("--deadline <duration>", "time from the job's start to its deadline, e.g. 60h")
      .option("--restart-overhead <duration>", "time a new instance takes before it makes progress", "12m")
      .option("--spot-price <usd>", "spot price per hour", "0.92")
      .option("--on-demand-price <usd>", "on-demand price per hour", "3.06")
      .addOption(
        new Option("--policy <name>", "policy to replay")
          .choices(["greedy", "uniform-progress", "ross", "adaptive", "on-demand", "spot-only", "all"])
          .default("all"),
      )
      .option("--seed <n>", "seed of a randomized policy (ross): the same seed replays the same draws", "1")
      .option("--start-at <duration>", "start the job this far into the traces", "0s")
      .option("--block-zone-for <duration>", "with several traces: how long failover avoids a preempted zone", "30m")
      .option("--each", "simulate each trace as its own single-zone job instead of one job across zones")
      .option("--timeline", "with --json: include every tick's decision")
      .option(
        "--job <id>",
        "compare a managed job that ran the deadline strategy on a replayed trace with simulate, tick by tick",
      ),
  run: lazyRun(
    () => import("./simulate-actions.js"),
    (m) => m.simulate,
  ),
};
