import { Option } from "commander";
import { type CommandSpec, lazyRun } from "../command.js";

export const offersCommand: CommandSpec = {
  name: "offers [query...]",
  summary: "list launchable offers and rank them by expected cost to finish",
  examples: [
    "spotrun offers --task task.yaml",
    "spotrun offers --task task.yaml --work 48h --restart-overhead 12m --json",
    'spotrun offers "gpu_name=RTX_4090 num_gpus>=1 reliability>0.98" --provider vast --order dph --limit 10',
  ],
  options: (cmd) =>
    cmd
      .option("--task <file>", "task YAML whose resources to price")
      .addOption(new Option("--provider <kind>", "with a QUERY: the provider whose query language it is").choices(["vast"]))
      .option("--order <fields>", "with a QUERY: sort order, e.g. dph or -reliability")
      .addOption(new Option("--type <type>", "with a QUERY: Vast rental type").choices(["on-demand", "bid"]))
      .option("--limit <n>", "show at most N offers")
      .option("--work <duration>", "work to price the finish of", "1h")
      .option("--restart-overhead <duration>", "time a new instance takes before it makes progress", "10m")
      .option("--assume-risk <per-hour>", "interruption risk per hour for spot offers that publish none", "0.05")
      .option("--min-hours <h>", "instance-hours of this store's history a pool needs before its measured rate is used", "24"),
  run: lazyRun(
    () => import("./offers-actions.js"),
    (m) => m.offers,
  ),
};
