import { notFound } from "../../base/errors.js";
import { isTerminal, type JobState } from "../../core/job-state.js";
import { ensureController, openApp } from "../app.js";
import type { CommandSpec } from "../command.js";
import { driveUntilDone } from "../drive-jobs.js";

export const cancelCommand: CommandSpec = {
  name: "cancel <jobs...>",
  summary: "Cancel jobs (or a whole job array): tear down their instances; checkpoints are kept",
  examples: ["spotrun cancel j-lx2k9f3a1b2c", "spotrun cancel my-training --no-wait", "spotrun cancel arr-lx2k9f3a1b2c"],
  options: (cmd) => cmd.option("--no-wait", "return once recorded, without waiting for the teardown"),
  async run(ctx, args, opts) {
    const app = await openApp(ctx);
    try {
      const ids: string[] = [];
      for (const ref of args) {
        const members = ref.startsWith("arr-") ? await app.store.jobs({ arrayId: ref }) : [];
        const jobs = members.length ? members : [await app.store.findJob(ref)];
        if (!jobs[0]) throw notFound(`no job ${ref}`, "list jobs with `spotrun status --all`");
        for (const j of jobs) {
          if (!j || isTerminal(j.state as JobState)) continue;
          await app.store.transaction(async (tx) => {
            await tx.updateJob(j.id, { desired: "cancel" });
            await tx.appendEvent(j.id, app.clock.now(), { kind: "cancel_requested" });
          });
          ids.push(j.id);
        }
      }
      // Waiting, this command drives the teardown itself if no controller is there to do it.
      if (opts.wait !== false) await driveUntilDone(app, ctx, ids, ctx.signal);
      else await ensureController(app, ctx.home);
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
