/** What `spotrun config show` does, imported only when it runs (its flags are defined in config.ts). */
import { effectiveSettings } from "../../config/effective-settings.js";
import type { CommandContext, CommandResult } from "../command.js";
import { table } from "../output.js";

const show = (v: unknown): string =>
  v === null || v === undefined ? "-" : typeof v === "string" ? v : Array.isArray(v) && v.length === 0 ? "[]" : JSON.stringify(v);

export async function configShow(ctx: CommandContext, _args: string[], opts: Record<string, unknown>): Promise<CommandResult> {
  const { loadUserConfig } = await import("../../config/load-user-config.js");
  const loaded = loadUserConfig(ctx.home);
  const homeSource = opts.home !== undefined ? "--home" : process.env.SPOTRUN_HOME ? "SPOTRUN_HOME" : "default";
  const settings = effectiveSettings({ dir: ctx.home, source: homeSource }, loaded);
  return {
    data: { config_file: loaded.file, found: loaded.found, settings },
    human: await table(
      ["SETTING", "VALUE", "FROM"],
      settings.map((s) => [s.key, show(s.value), s.source]),
    ),
  };
}
