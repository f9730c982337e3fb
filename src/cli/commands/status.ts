import { formatUsd } from "../../cost/ledger.js";
import { openApp } from "../app.js";
import type { CommandSpec } from "../command.js";
import { table } from "../output.js";

export const statusCommand: CommandSpec = {
  name: "status [job]",
  summary: "Show managed jobs (or one job) with state, attempts, preemptions and cost",
  examples: ["spotrun status", "spotrun status j-lx2k9f3a1b2c --json", "spotrun status --all"],
  options: (cmd) => cmd.option("-a, --all", "include finished jobs").option("--array <id>", "only the members of this job array"),
  async run(ctx, args, opts) {
    const app = await openApp(ctx);
    try {
      await app.ensureController();
      if (args[0]) {
        const v = await app.job(args[0]);
        const human = [
          `${v.id}  ${v.name}  ${v.state}`,
          v.message ? `  ${v.message}` : "",
          `  attempts ${v.attempts}, preemptions ${v.preemptions}, error restarts ${v.error_restarts}`,
          "controller" in v ? `  controller ${v.controller ?? "none holds it now"}` : "",
          v.current_attempt
            ? `  attempt ${v.current_attempt.attempt}: ${v.current_attempt.spot ? "spot" : "on-demand"} ${v.current_attempt.instance_type} ${v.current_attempt.instance_ids.join(", ")} (${v.current_attempt.state})`
            : "",
          `  cost ${formatUsd(v.cost_usd)} (on-demand would be ${formatUsd(v.on_demand_baseline_usd)}, saved ${formatUsd(v.savings_usd)}, ${v.savings_pct}%)`,
          `  checkpoints ${v.checkpoint_store}`,
        ]
          .filter(Boolean)
          .join("\n");
        return { data: v, human };
      }
      const data = await app.status({ all: Boolean(opts.all), ...(opts.array ? { arrayId: String(opts.array) } : {}) });
      const views = data.jobs;
      const rows = views.map((v) => [
        v.id,
        v.name,
        v.state,
        v.attempts,
        v.preemptions,
        v.current_attempt ? `${v.current_attempt.spot ? "spot" : "od"} ${v.current_attempt.instance_type}` : "-",
        formatUsd(v.cost_usd),
        formatUsd(v.savings_usd),
      ]);
      const arrayLines = data.arrays.map(
        (a) =>
          `array ${a.id}: ${a.members} members — ${Object.entries(a.states)
            .map(([s, n]) => `${n} ${s}`)
            .join(", ")} — cost ${formatUsd(a.cost_usd)}`,
      );
      const human = views.length
        ? [table(["ID", "NAME", "STATE", "ATTEMPTS", "PREEMPT", "CAPACITY", "COST", "SAVED"], rows), ...arrayLines].join("\n")
        : opts.all
          ? "no jobs yet — start one with: spotrun run examples/quickstart/task.yaml"
          : "no active jobs (spotrun status --all shows finished ones)";
      return {
        data,
        human,
      };
    } finally {
      await app.close();
    }
  },
};
