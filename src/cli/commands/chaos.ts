import { parseDuration } from "../../base/duration.js";
import { usageError } from "../../base/errors.js";
import { InstanceId } from "../../base/ids.js";
import type { LocalProvider } from "../../providers/local/local-provider.js";
import { openApp } from "../app.js";
import type { CommandSpec } from "../command.js";

export const chaosInterruptCommand: CommandSpec = {
  name: "chaos interrupt <instance>",
  summary: "Send a spot interruption notice to a local instance; it is reclaimed when the notice ends",
  examples: ["spotrun chaos interrupt i-0a1b2c3d4e5f60718", "spotrun chaos interrupt i-0a1b2c3d4e5f60718 --notice 10s"],
  options: (cmd) => cmd.option("--notice <duration>", "time between the notice and the reclaim (default: the market's)"),
  async run(ctx, args, opts) {
    let noticeMs: number | undefined;
    if (opts.notice !== undefined) {
      noticeMs = parseDuration(String(opts.notice));
      if (noticeMs === undefined) throw usageError(`--notice ${opts.notice} is not a duration`, "write it like 10s or 2m");
    }
    const app = await openApp(ctx);
    try {
      const provider = (await app.providers.get("local")) as LocalProvider;
      const n = await provider.interrupt(InstanceId(args[0] as string), noticeMs);
      const time = new Date(n.time).toISOString();
      return { data: { id: args[0], action: n.action, time }, human: `${args[0]}: ${n.action} notice, reclaimed at ${time}` };
    } finally {
      await app.close();
    }
  },
};
