import { usageError } from "../../base/errors.js";
import { JobMetrics } from "../../metrics/job-metrics.js";
import { parseListenAddress, serveMetrics } from "../../metrics/metrics-server.js";
import { ProviderApiMetrics } from "../../metrics/provider-api-metrics.js";
import { openApp } from "../app.js";
import type { CommandSpec } from "../command.js";

export const controllerRunCommand: CommandSpec = {
  name: "controller run",
  summary: "Run the controller for this state store in the foreground (normally started for you)",
  examples: [
    "spotrun controller run",
    "spotrun controller run --exit-when-idle",
    "SPOTRUN_STATE_URL=postgres://spotrun@db.internal/spotrun spotrun controller run --max-jobs 200   # one of a team's controllers",
    "spotrun controller run --metrics 127.0.0.1:9464   # Prometheus scrapes http://127.0.0.1:9464/metrics",
  ],
  options: (cmd) =>
    cmd
      .option("--exit-when-idle", "stop when no job is active")
      .option(
        "--max-jobs <n>",
        "on a shared (PostgreSQL) store: lease at most this many jobs, leaving the rest to other controllers",
      )
      .option("--metrics <host:port>", "serve Prometheus metrics at http://HOST:PORT/metrics while it runs (:PORT is loopback)"),
  async run(ctx, _args, opts) {
    const app = await openApp(ctx);
    let metrics: Awaited<ReturnType<typeof serveMetrics>> | undefined;
    try {
      const maxJobs = opts.maxJobs !== undefined ? positiveInt("--max-jobs", opts.maxJobs) : undefined;
      const listen = opts.metrics === undefined ? undefined : parseListenAddress(String(opts.metrics), "--metrics");
      if (listen) {
        const jobs = new JobMetrics(app.store, () => app.clock.now());
        // The controller's own cloud calls, beside the store's view: counted from the first one.
        new ProviderApiMetrics(jobs.registry).follow(app.providers);
        metrics = await serveMetrics(listen, jobs);
      }
      if (metrics) ctx.out.info(`metrics at ${metrics.url}`);
      const abort = new AbortController();
      process.once("SIGINT", () => abort.abort());
      ctx.signal.addEventListener("abort", () => abort.abort(), { once: true });
      const why = await app.runController({
        signal: abort.signal,
        exitWhenIdle: Boolean(opts.exitWhenIdle),
        ...(maxJobs !== undefined ? { maxJobs } : {}),
      });
      return {
        data: { stopped: why },
        human: why === "lease-lost" ? "another controller owns this state store" : `controller stopped (${why})`,
      };
    } finally {
      metrics?.server.close();
      await app.close();
    }
  },
};

function positiveInt(flag: string, v: unknown): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw usageError(`${flag}: expected a whole number ≥ 1, got ${JSON.stringify(v)}`);
  return n;
}
