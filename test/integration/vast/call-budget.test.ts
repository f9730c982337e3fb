import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";
import { InstanceId } from "../../../src/base/ids.js";
import { silentLogger } from "../../../src/base/logger.js";
import type { ApiCall } from "../../../src/providers/api-calls.js";
import { CallBudget } from "../../../src/providers/call-budget.js";
import { type LaunchRequest, TAG } from "../../../src/providers/provider.js";
import { VastClient, vastAction } from "../../../src/providers/vast/client.js";
import { VastProvider } from "../../../src/providers/vast/vast-provider.js";
import { resourcesSchema } from "../../../src/spec/task-schema.js";
import { API_KEY, type Harness, harness, SteppingClock } from "./fixtures.js";

/** Vast's calls through the provider and its real HTTP client against the in-repo Vast server. */
let h: Harness;
let provider: VastProvider;
let budget: CallBudget;
let heard: ApiCall[];

beforeEach(async () => {
  const clock = new SteppingClock();
  h = await harness({ loadingPolls: 0, now: () => clock.now() });
  budget = new CallBudget({ share: 0.5 });
  heard = [];
  const client = new VastClient({ apiKey: API_KEY, baseUrl: h.server.url, clock });
  provider = new VastProvider({ home: h.home, logger: silentLogger, client, clock, budget, onApiCall: (c) => heard.push(c) });
});
afterEach(() => h.close());

const request = (job: string): LaunchRequest => ({
  token: `spotrun-${job}-a0-n0`,
  instanceTypes: ["RTX_4090:1"],
  spot: false,
  count: 1,
  tags: { [TAG.job]: job, [TAG.attempt]: `${job}-a0`, [TAG.managed]: "st-1" },
  resources: resourcesSchema.parse({ provider: "vast", accelerators: "RTX_4090:1" }),
});

/** API requests the server saw (the log objects it also serves are not API calls). */
const apiRequests = () => h.server.requests.filter((r) => r.path.startsWith("/api/v0/"));

test("list and describe are one GET of the user's instances for every job; an empty describe sends nothing", async () => {
  const launched: string[] = [];
  for (const job of ["j-1", "j-2"]) {
    const r = await provider.launch(request(job));
    assert.equal(r.kind, "launched");
    if (r.kind === "launched") launched.push(...r.instances.map((i) => i.id));
  }
  const before = apiRequests().length;
  const listed = await provider.list({ [TAG.managed]: "st-1" });
  assert.deepEqual(listed.map((i) => i.id).sort(), [...launched].sort());
  const described = await provider.describe(launched.map(InstanceId));
  assert.deepEqual(
    described.map((i) => i.id),
    launched,
  );
  assert.deepEqual(await provider.describe([]), []);
  const sent = apiRequests().slice(before);
  assert.deepEqual(
    sent.map((r) => `${r.method} ${r.path}`),
    ["GET /api/v0/instances", "GET /api/v0/instances"],
    "one listing for both jobs' list, one for their describe",
  );
  // Every request the server saw is counted once, under its action's name.
  assert.equal(provider.apiCalls()?.total, apiRequests().length);
  assert.equal(provider.apiCalls()?.byAction["GET /instances"]?.ok, 2 + 2, "one per launch (adoption check), list, describe");
});

test("a 429 is counted as throttled and halves the rate of the whole Vast account; the retry is counted too", async () => {
  h.server.throttle(1);
  const listed = await provider.list({ [TAG.managed]: "st-1" });
  assert.deepEqual(listed, []);
  assert.deepEqual(
    heard.map((c) => [c.provider, c.region, c.action, c.outcome]),
    [
      ["vast", "global", "GET /instances", "throttled"],
      ["vast", "global", "GET /instances", "ok"],
    ],
  );
  assert.deepEqual(provider.apiCalls(), {
    total: 2,
    ok: 1,
    throttled: 1,
    error: 0,
    byAction: { "GET /instances": { ok: 1, throttled: 1, error: 0 } },
  });
  const scope = budget.scope("vast", "global");
  assert.ok(scope.rateFactor() <= 0.52, `halved, then crept up by one answer: ${scope.rateFactor()}`);
});

test("an API refusal (a 200 with success: false) is an error, not a throttle, and leaves the rate alone", async () => {
  // The instance is gone: the delete is refused, the check after it answers that there is none.
  await provider.terminate([InstanceId("999")]);
  assert.deepEqual(provider.apiCalls()?.byAction, {
    "DELETE /instances/{id}": { ok: 0, throttled: 0, error: 1 },
    "GET /instances/{id}": { ok: 1, throttled: 0, error: 0 },
  });
  assert.equal(budget.scope("vast", "global").rateFactor(), 1);
});

test("actions are named without ids or the query", () => {
  assert.equal(vastAction("GET", "/instances/7835610/?owner=me"), "GET /instances/{id}");
  assert.equal(vastAction("PUT", "/instances/bid_price/12/"), "PUT /instances/bid_price/{id}");
  assert.equal(vastAction("GET", "/instances?owner=me"), "GET /instances");
  assert.equal(vastAction("POST", "/bundles/"), "POST /bundles");
});
