import type { JobId } from "../base/ids.js";
import type { Logger } from "../base/logger.js";
import { Controller } from "../core/controller.js";
import { isTerminal } from "../core/job-state.js";
import type { Services } from "../core/services.js";
import { controllerAlive } from "./background-controller.js";
import { notifierFor } from "./notifier-for.js";

/**
 * Until these jobs end: drive them from this process whenever no live controller holds the store's
 * lease, and otherwise just wait. A caller that waits on jobs then never depends on a background
 * controller happening to be there (it may have just gone idle, or been killed).
 */
export async function driveUntilDone(
  app: Services & { home: string; logger: Logger },
  ids: readonly JobId[],
  signal: AbortSignal,
): Promise<void> {
  const controller = new Controller({
    store: app.store,
    providers: app.providers,
    home: app.home,
    clock: app.clock,
    logger: app.logger,
    companions: [notifierFor(app)],
  });
  const allDone = async () => {
    for (const id of ids) {
      const j = await app.store.job(id);
      if (j && !isTerminal(j.state)) return false;
    }
    return true;
  };
  while (!signal.aborted && !(await allDone())) {
    if (!(await controllerAlive(app.store, app.clock.now()))) await controller.run({ signal, until: allDone });
    else await app.clock.sleep(500, signal).catch(() => {});
  }
}
