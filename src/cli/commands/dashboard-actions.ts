/** What `spotrun dashboard` does, imported only when it runs (its flags are defined in dashboard.ts). */
import { randomBytes } from "node:crypto";
import { usageError } from "../../base/errors.js";
import { DEFAULT_DASHBOARD_PORT } from "../../config/effective-settings.js";
import { parseListenAddress } from "../../metrics/metrics-server.js";
import { openApp } from "../app.js";
import type { CommandContext, CommandResult } from "../command.js";

const isLoopback = (host: string): boolean => /^127\.\d+\.\d+\.\d+$/.test(host) || host === "::1" || host === "localhost";

export async function dashboard(ctx: CommandContext, _args: string[], opts: Record<string, unknown>): Promise<CommandResult> {
  const { loadUserConfig } = await import("../../config/load-user-config.js");
  const { config } = loadUserConfig(ctx.home);
  let host = "127.0.0.1";
  let port = config.dashboard?.port ?? DEFAULT_DASHBOARD_PORT;
  if (opts.port !== undefined) {
    port = Number(opts.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw usageError(`--port ${opts.port}: expected a port number 0–65535`);
  }
  if (opts.listen !== undefined) {
    ({ host, port } = parseListenAddress(String(opts.listen), "--listen"));
    if (!isLoopback(host) && opts.token === undefined)
      throw usageError(
        `refusing to serve the dashboard on ${host} without --token`,
        "give --token SECRET (16 characters or more), or leave out --listen for 127.0.0.1",
      );
  }
  const token = opts.token === undefined ? randomBytes(18).toString("base64url") : String(opts.token);
  if (token.length < 16)
    throw usageError("--token is shorter than 16 characters", "use a longer secret, e.g. $(openssl rand -hex 16)");
  const app = await openApp(ctx);
  const { startDashboard } = await import("../../dashboard/dashboard-server.js");
  const dash = await startDashboard(app, { host, port, token });
  try {
    ctx.out.line(`spotrun dashboard: ${dash.url}  (Ctrl-C to stop)`, { url: dash.url });
    await app.ensureController();
    // Live pages need a controller moving the jobs; the dashboard starts one whenever none is there.
    const keep = setInterval(() => void app.ensureController().catch(() => {}), 10_000);
    await new Promise<void>((done) => {
      process.once("SIGINT", () => done());
      ctx.signal.addEventListener("abort", () => done(), { once: true });
    });
    clearInterval(keep);
    return {};
  } finally {
    await dash.close();
    await app.close();
  }
}
