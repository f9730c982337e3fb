import { openSpotrun, type Spotrun } from "../api/spotrun.js";
import type { CommandContext } from "./command.js";

/** Commands are clients of the library API: each opens the home it was pointed at. */
export type App = Spotrun;

export const openApp = (ctx: CommandContext): Promise<App> => openSpotrun({ home: ctx.home, logger: ctx.logger });
