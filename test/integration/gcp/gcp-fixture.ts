import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "../../../src/base/logger.js";
import { closeGcpClients, createGcpClients, type GcpClients } from "../../../src/providers/gcp/gcp-clients.js";
import { GcpProvider, type GcpProviderOptions } from "../../../src/providers/gcp/gcp-provider.js";
import type { LaunchRequest } from "../../../src/providers/provider.js";
import { resourcesSchema } from "../../../src/spec/task-schema.js";
import { writeAdcFile } from "../../servers/gcp/adc-file.js";
import type { RecordingServer } from "../../servers/gcp/http-kit.js";

export const PROJECT = "spotrun-test";

/** Real Google clients (REST transport) pointed at an in-repo server, authenticated through an ADC file. */
export async function clientsFor(server: RecordingServer, dir: string, requestTimeoutMs?: number): Promise<GcpClients> {
  const keyFilename = await writeAdcFile(dir, server.url, PROJECT);
  return createGcpClients({
    fallback: true,
    apiEndpoint: "127.0.0.1",
    port: server.port,
    protocol: "http",
    keyFilename,
    ...(requestTimeoutMs ? { requestTimeoutMs } : {}),
  });
}

export interface Fixture {
  dir: string;
  clients: GcpClients;
  provider: GcpProvider;
  close(): Promise<void>;
}

export async function providerFor(server: RecordingServer, extra: Partial<GcpProviderOptions> = {}): Promise<Fixture> {
  const dir = await mkdtemp(join(tmpdir(), "spotrun-gcp-"));
  const clients = await clientsFor(server, dir);
  const provider = new GcpProvider({ home: dir, logger: silentLogger, clients, project: PROJECT, ...extra });
  return {
    dir,
    clients,
    provider,
    async close() {
      await provider.close();
      await closeGcpClients(clients);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export function launchRequest(
  over: Partial<Omit<LaunchRequest, "resources">> & { resources?: Record<string, unknown> } = {},
): LaunchRequest {
  const { resources, ...rest } = over;
  return {
    token: "spotrun-j-abc-a1-n0",
    instanceTypes: ["n2-standard-4"],
    spot: true,
    count: 1,
    tags: { "spotrun:job": "j-abc", "spotrun:attempt": "j-abc-a1", "spotrun:managed": "true" },
    resources: resourcesSchema.parse({ provider: "gcp", ...resources }),
    ...rest,
  };
}
