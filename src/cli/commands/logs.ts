import { readFileSync } from "node:fs";
import { notFound } from "../../base/errors.js";
import { jobLogPath } from "../../core/paths.js";
import { ensureController, openApp } from "../app.js";
import type { CommandSpec } from "../command.js";
import { followJob } from "../follow-job.js";

export const logsCommand: CommandSpec = {
  name: "logs <job>",
  summary: "Print a job's output, collected from every attempt; --follow streams until it ends",
  examples: ["spotrun logs j-lx2k9f3a1b2c", "spotrun logs my-training --follow", "spotrun logs j-lx2k9f3a1b2c --follow --json"],
  options: (cmd) => cmd.option("-f, --follow", "keep streaming until the job ends (progress on stderr)"),
  async run(ctx, args, opts) {
    const app = await openApp(ctx);
    try {
      const job = await app.store.findJob(args[0] as string);
      if (!job) throw notFound(`no job ${args[0]}`, "list jobs with `spotrun status --all`");
      await ensureController(app, ctx.home);
      if (opts.follow) {
        const state = await followJob(app.store, ctx.home, job.id, ctx.out, { signal: ctx.signal });
        return { exitCode: state === "SUCCEEDED" || state === "RUNNING" ? 0 : state === "CANCELLED" ? 0 : 1 };
      }
      let text = "";
      try {
        text = readFileSync(jobLogPath(ctx.home, job.id), "utf8");
      } catch {}
      if (ctx.json) return { data: { id: job.id, state: job.state, log: text } };
      process.stdout.write(text);
      return {};
    } finally {
      await app.close();
    }
  },
};
