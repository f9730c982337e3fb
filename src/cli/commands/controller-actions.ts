/** What `spotrun controller run` does, imported only when it runs (its flags are defined in controller.ts). */
import { usageError } from "../../base/errors.js";
import { parseListenAddress, serveMetrics } from "../../metrics/metrics-server.js";
import { openApp } from "../app.js";
import type { CommandContext, CommandResult } from "../command.js";

function positiveInt(flag: string, v: unknown): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw usageError(`${flag}: expected a whole number ≥ 1, got ${JSON.stringify(v)}`);
  return n;
}

export async function controllerRun(ctx: CommandContext, _args: string[], opts: Record<string, unknown>): Promise<CommandResult> {
  const app = await openApp(ctx);
  let metrics: Awaited<ReturnType<typeof serveMetrics>> | undefined;
  try {
    const maxJobs = opts.maxJobs !== undefined ? positiveInt("--max-jobs", opts.maxJobs) : undefined;
    const listen = opts.metrics === undefined ? undefined : parseListenAddress(String(opts.metrics), "--metrics");
    if (listen) {
      const [{ JobMetrics }, { ProviderApiMetrics }] = await Promise.all([
        import("../../metrics/job-metrics.js"),
        import("../../metrics/provider-api-metrics.js"),
      ]);
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
}
