import { Controller } from "../core/controller.js";
import { isTerminal, type JobState } from "../core/job-state.js";
import { type App, controllerAlive } from "./app.js";
import type { CommandContext } from "./command.js";

/**
 * Until these jobs end: drive them from this process whenever no live controller holds the store's
 * lease, and otherwise just wait. A command that waits on jobs then never depends on a background
 * controller happening to be there (it may have just gone idle, or been killed).
 */
export async function driveUntilDone(app: App, ctx: CommandContext, ids: string[], signal: AbortSignal): Promise<void> {
  const controller = new Controller({
    store: app.store,
    providers: app.providers,
    home: ctx.home,
    clock: app.clock,
    logger: ctx.logger,
  });
  const allDone = async () => {
    for (const id of ids) {
      const j = await app.store.job(id);
      if (j && !isTerminal(j.state as JobState)) return false;
    }
    return true;
  };
  while (!signal.aborted && !(await allDone())) {
    if (!(await controllerAlive(app.store, app.clock.now()))) await controller.run({ signal, until: allDone });
    else await app.clock.sleep(500, signal).catch(() => {});
  }
}
