import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { usageError } from "../base/errors.js";

/** `127.0.0.1:9464`, `:9464` (loopback) or `[::1]:9464` → where to listen. */
export function parseListenAddress(addr: string, flag: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(addr.trim());
  const port = Number(m?.[3]);
  if (!m || !Number.isInteger(port) || port > 65535)
    throw usageError(`${flag} ${addr}: expected HOST:PORT such as 127.0.0.1:9464 (or :9464 for loopback)`);
  return { host: m[1] ?? (m[2] || "127.0.0.1"), port };
}

/** A `/metrics` endpoint on its own (the controller's `--metrics`); anything else is 404. */
export async function serveMetrics(
  addr: { host: string; port: number },
  metrics: { render(): Promise<string>; contentType: string },
): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    if (req.method !== "GET" || (req.url ?? "").split("?")[0] !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found: scrape /metrics\n");
      return;
    }
    metrics.render().then(
      (text) => res.writeHead(200, { "content-type": metrics.contentType }).end(text),
      (e: unknown) => res.writeHead(500, { "content-type": "text/plain" }).end(`metrics failed: ${(e as Error).message}\n`),
    );
  });
  await new Promise<void>((ok, fail) => {
    server.once("error", fail);
    server.listen(addr.port, addr.host, () => ok());
  });
  const a = server.address() as AddressInfo;
  const host = a.family === "IPv6" ? `[${a.address}]` : a.address;
  return { server, url: `http://${host}:${a.port}/metrics` };
}
