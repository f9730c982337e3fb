import type { AddressInfo } from "node:net";
import { connect, createServer, type Server, type Socket } from "node:net";

/**
 * A TCP proxy on 127.0.0.1 in front of a real server that can swallow connections: each of the
 * next `stall(n)` connections is accepted and read but never answered (a peer that hangs), the
 * rest are piped through. For proving that a client times out and retries instead of waiting.
 */
export interface StallProxy {
  url: string;
  stall(n: number): void;
  /** Connections accepted so far, and how many of them were swallowed. */
  readonly accepted: number;
  readonly stalled: number;
  close(): Promise<void>;
}

export async function startStallProxy(target: { host: string; port: number }): Promise<StallProxy> {
  let pending = 0;
  let accepted = 0;
  let stalled = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    accepted++;
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    client.on("error", () => {});
    if (pending > 0) {
      pending--;
      stalled++;
      client.resume();
      return;
    }
    const upstream = connect(target.port, target.host);
    sockets.add(upstream);
    upstream.on("close", () => sockets.delete(upstream));
    upstream.on("error", () => client.destroy());
    client.on("error", () => upstream.destroy());
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    stall(n) {
      pending = n;
    },
    get accepted() {
      return accepted;
    },
    get stalled() {
      return stalled;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
