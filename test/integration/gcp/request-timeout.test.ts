import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { silentLogger } from "../../../src/base/logger.js";
import { closeGcpClients, type GcpClients } from "../../../src/providers/gcp/gcp-clients.js";
import { REQUEST_TIMEOUT } from "../../../src/providers/gcp/gcp-errors.js";
import { GcpProvider } from "../../../src/providers/gcp/gcp-provider.js";
import { ProviderError } from "../../../src/providers/provider.js";
import { resourcesSchema } from "../../../src/spec/task-schema.js";
import { ComputeServer } from "../../servers/gcp/compute-server.js";
import { clientsFor, PROJECT } from "./gcp-fixture.js";

/** Google's REST transport waits forever on a silent server unless its HTTP transport has a limit. */
let server: ComputeServer;
let dir: string;
let clients: GcpClients;
before(async () => {
  server = await new ComputeServer({ project: PROJECT }).start();
  dir = await mkdtemp(join(tmpdir(), "spotrun-gcp-timeout-"));
  clients = await clientsFor(server.http, dir, 400);
});
after(async () => {
  await closeGcpClients(clients);
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

test("a Compute call nobody answers fails at the time limit as a retryable error, and the next call goes through", async () => {
  const provider = new GcpProvider({ home: dir, logger: silentLogger, clients, project: PROJECT });
  const resources = resourcesSchema.parse({ provider: "gcp", region: "us-central1", instance_type: "e2-standard-4" });
  server.http.stall(1, (r) => r.path.endsWith("/regions/us-central1"));
  const t0 = Date.now();
  await assert.rejects(provider.offers(resources), (e: unknown) => {
    assert.ok(e instanceof ProviderError, String(e));
    assert.equal(e.code, REQUEST_TIMEOUT);
    assert.equal(e.retryable, true);
    return true;
  });
  assert.ok(Date.now() - t0 < 5_000, `${Date.now() - t0} ms`);
  const offers = await provider.offers(resources);
  assert.deepEqual(
    offers.map((o) => o.zone),
    ["us-central1-a", "us-central1-b", "us-central1-c"],
  );
});
