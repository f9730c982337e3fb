import { usageError } from "../../base/errors.js";
import { openApp } from "../app.js";
import type { CommandSpec } from "../command.js";
import { followJob } from "../follow-job.js";

export const logsCommand: CommandSpec = {
  name: "logs <job>",
  summary: "Print a job's output, collected from every attempt; --follow streams until it ends",
  examples: [
    "spotrun logs j-lx2k9f3a1b2c",
    "spotrun logs my-training --follow",
    "spotrun logs j-lx2k9f3a1b2c --tail 20",
    "spotrun logs j-lx2k9f3a1b2c --since 4096 --json   # what came after byte 4096; next_offset says where to go on",
  ],
  options: (cmd) =>
    cmd
      .option("-f, --follow", "keep streaming until the job ends (progress on stderr)")
      .option("-n, --tail <lines>", "only the last N lines")
      .option("--since <offset>", "only what came after this byte offset (a previous --json read's next_offset)"),
  async run(ctx, args, opts) {
    const app = await openApp(ctx);
    try {
      const job = await app.jobRow(args[0] as string);
      await app.ensureController();
      if (opts.follow) {
        const state = await followJob(app.store, ctx.home, job.id, ctx.out, { signal: ctx.signal });
        return { exitCode: state === "SUCCEEDED" || state === "RUNNING" ? 0 : state === "CANCELLED" ? 0 : 1 };
      }
      const read = await app.logs(job.id, {
        ...(opts.tail !== undefined ? { tail: wholeNumber("--tail", opts.tail) } : {}),
        ...(opts.since !== undefined ? { since: wholeNumber("--since", opts.since) } : {}),
      });
      if (ctx.json)
        return { data: { id: read.id, state: read.state, log: read.text, offset: read.offset, next_offset: read.next_offset } };
      process.stdout.write(read.text);
      return {};
    } finally {
      await app.close();
    }
  },
};

function wholeNumber(flag: string, v: unknown): number {
  const n = Number(v);
  if (!/^\d+$/.test(String(v)) || !Number.isSafeInteger(n))
    throw usageError(`${flag}: expected a whole number ≥ 0, got ${JSON.stringify(v)}`, `give ${flag} a number such as 20`);
  return n;
}
