import type { Clock } from "../base/clock.js";
import { errorMessage } from "../base/errors.js";
import type { Logger } from "../base/logger.js";
import { loadUserConfig } from "../config/load-user-config.js";
import { Notifier } from "../notify/notifier.js";
import type { StateStore } from "../state/state-store.js";

/**
 * The notifier of a controller over this home: the tasks' own `notify` targets and the user
 * config's. A config that does not parse leaves only the tasks' (commands report its error).
 */
export function notifierFor(app: { store: StateStore; clock: Clock; logger: Logger; home: string }): Notifier {
  let config: ReturnType<typeof loadUserConfig>["config"] = {};
  try {
    config = loadUserConfig(app.home).config;
  } catch (e) {
    app.logger.warn({ err: errorMessage(e) }, "user config not readable; notifying the tasks' own targets only");
  }
  return new Notifier({
    store: app.store,
    clock: app.clock,
    logger: app.logger,
    ...(config.notify ? { userTargets: config.notify } : {}),
    ...(config.notify_every !== undefined ? { userEveryMs: config.notify_every } : {}),
    userCwd: app.home,
  });
}
