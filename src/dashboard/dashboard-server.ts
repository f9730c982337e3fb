import { timingSafeEqual } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join } from "node:path";
import type { Spotrun } from "../api/spotrun.js";
import { SpotrunError } from "../base/errors.js";
import { packageRoot } from "../base/package-root.js";
import { JobMetrics } from "../metrics/job-metrics.js";
import { ProviderApiMetrics } from "../metrics/provider-api-metrics.js";
import { lastEventSeq } from "../state/event-feed.js";
import { ApiError, dashboardApi } from "./dashboard-api.js";

/** Where `npm run build` puts the page (dist/dashboard-ui), beside the compiled server. */
export const uiDir = (): string => `${join(packageRoot(), "dist", "dashboard-ui")}/`;

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".png": "image/png",
};
const COOKIE = "spotrun_dashboard";

export interface Dashboard {
  server: Server;
  /** The address to open, with the token. */
  url: string;
  close(): Promise<void>;
}

/**
 * The dashboard: the built page, its JSON API (reads through the library API), a server-sent
 * event stream that says when the event log moved, and `/metrics`. Every request needs the token:
 * the printed URL's `?token=` (turned into a same-site cookie), or `Authorization: Bearer` for
 * scrapers. Everything else gets 401.
 */
export async function startDashboard(app: Spotrun, opts: { host: string; port: number; token: string }): Promise<Dashboard> {
  const dir = uiDir();
  if (!existsSync(join(dir, "index.html")))
    throw new SpotrunError("failed", `the dashboard page is not built (${dir} is missing)`, { fix: "run `npm run build`" });
  const metrics = new JobMetrics(app.store, () => app.clock.now());
  const stopApiMetrics = new ProviderApiMetrics(metrics.registry).follow(app.providers);
  const want = Buffer.from(opts.token);
  const authorized = (req: IncomingMessage, url: URL): boolean => {
    const cookie = /(?:^|;\s*)spotrun_dashboard=([^;]+)/.exec(req.headers.cookie ?? "")?.[1];
    const bearer = /^Bearer (\S+)$/.exec(req.headers.authorization ?? "")?.[1];
    return [url.searchParams.get("token"), cookie, bearer].some((t) => {
      const got = Buffer.from(t ?? "");
      return got.length === want.length && timingSafeEqual(got, want);
    });
  };

  // One poll of the log's head for every open stream: the page refetches when it moves.
  const streams = new Set<ServerResponse>();
  let seq = await lastEventSeq(app.store);
  const poll = setInterval(() => {
    lastEventSeq(app.store)
      .then((s) => {
        if (s === seq) return;
        seq = s;
        for (const res of streams) res.write(`data: ${JSON.stringify({ seq })}\n\n`);
      })
      .catch(() => {});
  }, 500);
  const heartbeat = setInterval(() => {
    for (const res of streams) res.write(": keep-alive\n\n");
  }, 15_000);

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://dashboard");
    if (req.method !== "GET") return void res.writeHead(405, { allow: "GET" }).end();
    if (!authorized(req, url))
      return void res
        .writeHead(401, { "content-type": "text/plain; charset=utf-8" })
        .end("401 unauthorized: open the address `spotrun dashboard` printed (it carries ?token=…)\n");
    if (url.searchParams.has("token") && url.pathname === "/")
      // The token goes into a cookie and out of the address bar (and the browser's history).
      return void res
        .writeHead(303, { location: "/", "set-cookie": `${COOKIE}=${opts.token}; HttpOnly; SameSite=Strict; Path=/` })
        .end();
    if (url.pathname === "/metrics") {
      const text = await metrics.render();
      return void res.writeHead(200, { "content-type": metrics.contentType }).end(text);
    }
    if (url.pathname === "/api/stream") {
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store", connection: "keep-alive" });
      res.write(`data: ${JSON.stringify({ seq })}\n\n`);
      streams.add(res);
      req.on("close", () => streams.delete(res));
      return;
    }
    if (url.pathname.startsWith("/api/")) {
      try {
        const data = await dashboardApi(app, url.pathname.slice(5), url.searchParams);
        return void res
          .writeHead(200, { "content-type": "application/json", "cache-control": "no-store" })
          .end(JSON.stringify(data));
      } catch (e) {
        const status = e instanceof ApiError ? e.status : e instanceof SpotrunError && e.kind === "not_found" ? 404 : 500;
        return void res
          .writeHead(status, { "content-type": "application/json" })
          .end(JSON.stringify({ error: (e as Error).message }));
      }
    }
    // The page: its few built files, and index.html for every route of the single-page app.
    const name = /^\/assets\/([\w.-]+)$/.exec(url.pathname)?.[1];
    const file = name ? join(dir, "assets", name) : join(dir, "index.html");
    if (name && !existsSync(file)) return void res.writeHead(404).end();
    res
      .writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream", "cache-control": "no-store" })
      .end(readFileSync(file));
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end(`dashboard error: ${(e as Error).message}\n`);
    });
  });
  await new Promise<void>((ok, fail) => {
    server.once("error", fail);
    server.listen(opts.port, opts.host, () => ok());
  });
  const a = server.address() as AddressInfo;
  const host = a.family === "IPv6" ? `[${a.address}]` : a.address;
  return {
    server,
    url: `http://${host}:${a.port}/?token=${opts.token}`,
    close: async () => {
      clearInterval(poll);
      stopApiMetrics();
      clearInterval(heartbeat);
      for (const res of streams) res.end();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
