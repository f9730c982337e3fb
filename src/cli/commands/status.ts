import { notFound } from "../../base/errors.js";
import { SHARED_LEASE_PREFIX } from "../../core/controller.js";
import { formatUsd } from "../../cost/ledger.js";
import { ensureController, openApp } from "../app.js";
import type { CommandSpec } from "../command.js";
import { jobView } from "../job-view.js";
import { table } from "../output.js";

export const statusCommand: CommandSpec = {
  name: "status [job]",
  summary: "Show managed jobs (or one job) with state, attempts, preemptions and cost",
  examples: ["spotrun status", "spotrun status j-lx2k9f3a1b2c --json", "spotrun status --all"],
  options: (cmd) => cmd.option("-a, --all", "include finished jobs").option("--array <id>", "only the members of this job array"),
  async run(ctx, args, opts) {
    const app = await openApp(ctx);
    try {
      await ensureController(app, ctx.home);
      const now = app.clock.now();
      if (args[0]) {
        const job = await app.store.findJob(args[0]);
        if (!job) throw notFound(`no job ${args[0]}`, "list jobs with `spotrun status --all`");
        const v = await jobView(app.store, job, now);
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
      const jobs = await app.store.jobs({ active: !opts.all, ...(opts.array ? { arrayId: String(opts.array) } : {}) });
      const views = await Promise.all(jobs.map((j) => jobView(app.store, j, now)));
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
      const arrays = new Map<string, { total: number; states: Record<string, number>; cost: number }>();
      for (const v of views) {
        if (!v.array_id) continue;
        const a = arrays.get(v.array_id) ?? { total: 0, states: {}, cost: 0 };
        a.total++;
        a.states[v.state] = (a.states[v.state] ?? 0) + 1;
        a.cost += v.cost_usd;
        arrays.set(v.array_id, a);
      }
      const arrayLines = [...arrays].map(
        ([id, a]) =>
          `array ${id}: ${a.total} members — ${Object.entries(a.states)
            .map(([s, n]) => `${n} ${s}`)
            .join(", ")} — cost ${formatUsd(a.cost)}`,
      );
      const human = views.length
        ? [table(["ID", "NAME", "STATE", "ATTEMPTS", "PREEMPT", "CAPACITY", "COST", "SAVED"], rows), ...arrayLines].join("\n")
        : opts.all
          ? "no jobs yet — start one with: spotrun run examples/quickstart/task.yaml"
          : "no active jobs (spotrun status --all shows finished ones)";
      const lease = await app.store.lease("controller");
      // A team's store is worked by several controllers, each under its own lease.
      const team = app.store.shared ? await app.store.liveLeases(SHARED_LEASE_PREFIX, now) : undefined;
      return {
        data: {
          controller: lease
            ? { pid: lease.pid, host: lease.host, lease_expires_at: new Date(Number(lease.expires_at)).toISOString() }
            : null,
          ...(team ? { controllers: team.map((l) => ({ id: l.owner, pid: l.pid, host: l.host })) } : {}),
          jobs: views,
          arrays: [...arrays].map(([id, a]) => ({
            id,
            members: a.total,
            states: a.states,
            cost_usd: Math.round(a.cost * 1e6) / 1e6,
          })),
        },
        human,
      };
    } finally {
      await app.close();
    }
  },
};
