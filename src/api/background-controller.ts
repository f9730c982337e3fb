import { spawn } from "node:child_process";
import { openSync } from "node:fs";
import { hostname } from "node:os";
import { ensurePrivateDir } from "../base/private-dir.js";
import { isAlive } from "../base/process.js";
import { spotrunBin } from "../base/self.js";
import { LEASE, SHARED_LEASE_PREFIX } from "../core/lease-names.js";
import { controllerLogPath } from "../core/paths.js";
import type { Services } from "../core/services.js";
import { STATE_URL_ENV } from "../state/open-state-store.js";
import type { StateStore } from "../state/state-store.js";

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
 * If jobs are active and no controller holds the lease (it was never started, or it was killed),
 * start one in the background, on the same store. It exits by itself when idle. True if it started one.
 */
export async function ensureController(app: Services, home: string, stateUrl: string | undefined): Promise<boolean> {
  if ((await app.store.countActive()) === 0) return false;
  if (await controllerAlive(app.store, app.clock.now())) return false;
  ensurePrivateDir(home);
  const log = openSync(controllerLogPath(home), "a");
  const env = { ...process.env };
  if (stateUrl) env[STATE_URL_ENV] = stateUrl;
  else delete env[STATE_URL_ENV];
  const child = spawn(process.execPath, [spotrunBin(), "--home", home, "controller", "run", "--exit-when-idle"], {
    detached: true,
    stdio: ["ignore", log, log],
    env,
  });
  child.unref();
  return true;
}
