import type { Spotrun } from "../api/spotrun.js";
import type { CommandContext } from "./command.js";

/** Commands are clients of the library API: each opens the home it was pointed at. */
export type App = Spotrun;

/** The library (store, controller, schemas) is imported here, when a command opens a home, never by `--help`. */
export const openApp = async (ctx: CommandContext): Promise<App> => {
  const { openSpotrun } = await import("../api/spotrun.js");
  return openSpotrun({ home: ctx.home, logger: ctx.logger });
};
