/** What `spotrun cancel` does, imported only when it runs (its flags are defined in cancel.ts). */
import { openApp } from "../app.js";
import type { CommandContext, CommandResult } from "../command.js";

export async function cancel(ctx: CommandContext, args: string[], opts: Record<string, unknown>): Promise<CommandResult> {
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
}
