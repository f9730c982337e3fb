import { openApp } from "../app.js";
import type { CommandSpec } from "../command.js";

export const cancelCommand: CommandSpec = {
  name: "cancel <jobs...>",
  summary: "Cancel jobs (or a whole job array): tear down their instances; checkpoints are kept",
  examples: ["spotrun cancel j-lx2k9f3a1b2c", "spotrun cancel my-training --no-wait", "spotrun cancel arr-lx2k9f3a1b2c"],
  options: (cmd) => cmd.option("--no-wait", "return once recorded, without waiting for the teardown"),
  async run(ctx, args, opts) {
    const app = await openApp(ctx);
    try {
      const ids = await app.cancel(args);
      // Waiting, this command drives the teardown itself if no controller is there to do it.
      if (opts.wait !== false) await app.waitUntilDone(ids, ctx.signal);
      else await app.ensureController();
      const jobs = await Promise.all(ids.map((id) => app.store.job(id)));
      return {
        data: { cancelled: jobs.map((j) => ({ id: j?.id, state: j?.state })) },
        human: ids.length ? ids.map((id, i) => `${id}: ${jobs[i]?.state}`).join("\n") : "nothing to cancel (already finished)",
      };
    } finally {
      await app.close();
    }
  },
};
