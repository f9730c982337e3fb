import { spawn } from "node:child_process";
import { mkdirSync, openSync } from "node:fs";
import { hostname } from "node:os";
import { type Clock, systemClock } from "../base/clock.js";
import { isAlive } from "../base/process.js";
import { spotrunBin } from "../base/self.js";
import { LEASE, SHARED_LEASE_PREFIX } from "../core/controller.js";
import { controllerLogPath } from "../core/paths.js";
import { ProviderCache } from "../providers/registry.js";
import { openStateStore } from "../state/open-state-store.js";
import type { StateStore } from "../state/state-store.js";
import type { CommandContext } from "./command.js";

export interface App {
  store: StateStore;
  providers: ProviderCache;
  clock: Clock;
  close(): Promise<void>;
}

export async function openApp(ctx: CommandContext): Promise<App> {
  const store = await openStateStore(ctx.home);
  const providers = new ProviderCache({ home: ctx.home, logger: ctx.logger });
  return {
    store,
    providers,
    clock: systemClock,
    close: async () => {
      await providers.closeAll();
      await store.close();
    },
  };
}

/** Whether a live controller holds this store's lease (on a shared store: any controller's own). */
export async function controllerAlive(store: StateStore, now: number): Promise<boolean> {
  if (store.shared) {
    const here = hostname();
    // A lease not run out is alive; one of this host's whose process is gone is not.
    return (await store.liveLeases(SHARED_LEASE_PREFIX, now)).some((l) => l.host !== here || isAlive(l.pid));
  }
  const l = await store.lease(LEASE);
  return Boolean(l && l.expires_at > now && isAlive(l.pid));
}

/**
 * Every command calls this: if jobs are active and no controller holds the lease (it was never
 * started, or it was killed), start one in the background. It exits by itself when idle.
 */
export async function ensureController(app: App, home: string): Promise<boolean> {
  if ((await app.store.countActive()) === 0) return false;
  if (await controllerAlive(app.store, app.clock.now())) return false;
  mkdirSync(home, { recursive: true });
  const log = openSync(controllerLogPath(home), "a");
  const child = spawn(process.execPath, [spotrunBin(), "--home", home, "controller", "run", "--exit-when-idle"], {
    detached: true,
    stdio: ["ignore", log, log],
    env: process.env,
  });
  child.unref();
  return true;
}
