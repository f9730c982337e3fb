import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { LoadedUserConfig } from "./load-user-config.js";

export interface Setting {
  key: string;
  value: unknown;
  /** `default`, `flag`, an environment variable's name, or the config file's path. */
  source: string;
}

/** The default port of `spotrun dashboard`. */
export const DEFAULT_DASHBOARD_PORT = 8042;

/** Every setting spotrun uses, its effective value, and where that value came from. */
export function effectiveSettings(
  home: { dir: string; source: string },
  loaded: LoadedUserConfig,
  env: NodeJS.ProcessEnv = process.env,
): Setting[] {
  const c = loaded.config;
  const file = loaded.found ? loaded.file : undefined;
  const pick = (key: string, v: unknown, fallback: unknown): Setting =>
    v !== undefined && file ? { key, value: v, source: file } : { key, value: fallback, source: "default" };
  return [
    { key: "home", value: home.dir, source: home.source },
    {
      key: "config_file",
      value: loaded.file,
      source: loaded.from === "SPOTRUN_CONFIG" ? "SPOTRUN_CONFIG" : loaded.found ? "home" : "home (not present)",
    },
    env.SPOTRUN_STATE_URL
      ? { key: "state_store", value: env.SPOTRUN_STATE_URL.replace(/\/\/[^@/]*@/, "//…@"), source: "SPOTRUN_STATE_URL" }
      : { key: "state_store", value: `sqlite:${join(home.dir, "state.db")}`, source: "default" },
    pick("resources.provider", c.resources?.provider, "local"),
    pick("resources.region", c.resources?.region, null),
    pick("resources.spot", c.resources?.spot, true),
    pick("resources.max_price", c.resources?.max_price, null),
    pick("checkpoint.store", c.checkpoint?.store, `${pathToFileURL(join(home.dir, "checkpoints")).href}/<job>`),
    pick("notify", c.notify, []),
    pick("notify_every", c.notify_every === undefined ? undefined : `${c.notify_every / 1000}s`, null),
    pick("dashboard.port", c.dashboard?.port, DEFAULT_DASHBOARD_PORT),
  ];
}
