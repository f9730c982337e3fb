import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { InstanceId } from "../../../src/base/ids.js";
import type { ApiCall } from "../../../src/providers/api-calls.js";
import { ACCOUNT_LIMITS, CallBudget } from "../../../src/providers/call-budget.js";
import { GCP_SCOPE, gcpCallClass } from "../../../src/providers/gcp/gcp-clients.js";
import { ComputeServer } from "../../servers/gcp/compute-server.js";
import { TpuServer } from "../../servers/gcp/tpu-server.js";
import { type Fixture, launchRequest, PROJECT, providerFor } from "./gcp-fixture.js";

/** Compute and TPU calls through the real Google clients (REST) against the in-repo Compute server. */
let server: ComputeServer;
let fx: Fixture;
const budget = new CallBudget({ share: 0.5 });
const heard: ApiCall[] = [];

before(async () => {
  server = await new ComputeServer({ project: PROJECT }).start();
  fx = await providerFor(server.http, { budget, onApiCall: (c) => heard.push(c) });
});
after(async () => {
  await fx?.close();
  await server?.close();
});

/** What reached the server as API requests: Compute's, and the TPU API's (this server answers it SERVICE_DISABLED). */
const apiRequests = () => server.http.received.filter((r) => r.path.startsWith("/compute/") || r.path.startsWith("/v2/"));

test("every Compute and TPU request is counted once, by method; list is one aggregated listing for every job", async () => {
  for (const job of ["j-1", "j-2"]) {
    const r = await fx.provider.launch(
      launchRequest({
        token: `spotrun-${job}-a1-n0`,
        zone: "us-central1-a",
        tags: { "spotrun:job": job, "spotrun:attempt": `${job}-a1`, "spotrun:managed": "st-1" },
      }),
    );
    assert.equal(r.kind, "launched");
  }
  assert.equal(fx.provider.apiCalls().total, apiRequests().length, "launches: each request counted once");

  const before = apiRequests().length;
  const counted = fx.provider.apiCalls().total;
  const listed = await fx.provider.list({ "spotrun:managed": "st-1" });
  assert.equal(listed.length, 2);
  const sent = apiRequests().slice(before);
  assert.deepEqual(
    sent.map((r) => `${r.method} ${r.path.replace(`/projects/${PROJECT}`, "")}`),
    ["GET /compute/v1/aggregated/instances", `GET /v2/locations/-/nodes`],
    "one aggregated VM listing for both jobs, and one TPU listing",
  );
  assert.equal(fx.provider.apiCalls().total - counted, 2);
  const byAction = fx.provider.apiCalls().byAction;
  assert.ok((byAction["instances.aggregatedList"]?.ok ?? 0) >= 3, "the adoption checks of the launches and the list");
  assert.ok((byAction["tpu.listNodes"]?.error ?? 0) >= 1, "the TPU API is not enabled here: an error, not a throttle");
  assert.ok((byAction["zoneOperations.wait"]?.ok ?? 0) >= 2, "operation polls are calls too");
  assert.ok(heard.every((c) => c.provider === "gcp" && c.region === GCP_SCOPE));
});

test("Compute's 403 rateLimitExceeded is a throttle: counted as one, and the whole project's rate is halved", async () => {
  const scope = budget.scope("gcp", GCP_SCOPE);
  const rate = scope.rate("read");
  const throttledBefore = fx.provider.apiCalls().throttled;
  server.throttle(1);
  await assert.rejects(fx.provider.list({ "spotrun:managed": "st-1" }));
  assert.equal(fx.provider.apiCalls().throttled - throttledBefore, 1);
  assert.equal(fx.provider.apiCalls().byAction["instances.aggregatedList"]?.throttled, 1);
  assert.equal(heard.at(-1)?.outcome, "throttled");
  assert.equal(scope.rate("read"), rate / 2);
  assert.equal(scope.rate("write"), (ACCOUNT_LIMITS.gcp.write.refillPerSec * 0.5) / 2, "writes too");
  const listed = await fx.provider.list({ "spotrun:managed": "st-1" });
  assert.equal(listed.length, 2, "the next pass lists as before");
});

test("TPU calls are counted too, and a listing of three slices is two calls", async () => {
  const tpu = await new TpuServer(PROJECT).start();
  const t = await providerFor(tpu.http, { budget: new CallBudget(), tpuPollMs: 5, tpuWaitMs: 5_000 });
  try {
    const ids: string[] = [];
    for (const job of ["j-t1", "j-t2", "j-t3"]) {
      const r = await t.provider.launch(
        launchRequest({
          token: `spotrun-${job}-a1-n0`,
          instanceTypes: [],
          tags: { "spotrun:job": job, "spotrun:attempt": `${job}-a1`, "spotrun:managed": "st-tpu" },
          resources: { tpu: "v4-8", zone: "us-central2-b", spot: true },
        }),
      );
      assert.equal(r.kind, "launched", JSON.stringify(r));
      if (r.kind === "launched") ids.push(...r.instances.map((i) => i.id));
    }
    const before = tpu.apiCalls.length;
    const listed = await t.provider.list({ "spotrun:managed": "st-tpu" });
    assert.deepEqual(listed.map((i) => i.id).sort(), [...ids].sort());
    assert.deepEqual(
      tpu.apiCalls.slice(before).map((r) => `${r.method} ${r.path.replace(`/v2/projects/${PROJECT}`, "")}`),
      ["GET /locations/-/nodes", "GET /locations/us-central2-b/queuedResources"],
      "three slices listed with one node listing and one queued-resource listing for their zone, not a get per slice",
    );
    await t.provider.terminate(ids.map(InstanceId));
    const counts = t.provider.apiCalls();
    assert.equal(
      counts.total,
      // The TPU API's requests, and the VM listing a list also sends (this server has no Compute).
      tpu.http.received.filter((r) => r.path !== "/token").length,
      `every request the TPU server saw is counted: ${JSON.stringify(counts.byAction)}`,
    );
    assert.equal(counts.byAction["tpu.createQueuedResource"]?.ok, 3);
    assert.ok((counts.byAction["tpu.getQueuedResource"]?.ok ?? 0) >= 2, "the polls while it waits for capacity");
  } finally {
    await t.close();
    await tpu.close();
  }
});

test("reads and writes by method name", () => {
  for (const m of ["get", "list", "aggregatedList", "wait", "getQueuedResource", "listNodes"])
    assert.equal(gcpCallClass(m), "read", m);
  for (const m of ["insert", "delete", "createQueuedResource", "deleteNode", "setLabels"])
    assert.equal(gcpCallClass(m), "write", m);
});
