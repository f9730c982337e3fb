import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";
import { inspect } from "node:util";
import { VastClient } from "../../../src/providers/vast/client.js";
import { VastApiError } from "../../../src/providers/vast/vast-api-error.js";
import type { CreateInstanceBody } from "../../../src/providers/vast/wire.js";
import { API_KEY, type Harness, harness, SteppingClock } from "./fixtures.js";

let h: Harness;
let clock: SteppingClock;
let client: VastClient;

beforeEach(async () => {
  h = await harness();
  clock = new SteppingClock();
  client = new VastClient({ apiKey: API_KEY, baseUrl: h.server.url, clock });
});
afterEach(() => h.close());

const body = (over: Partial<CreateInstanceBody> = {}): CreateInstanceBody => ({
  client_id: "me",
  image: "pytorch/pytorch:2.1.0-cuda12.1-cudnn8-runtime",
  env: { FOO: "bar" },
  price: null,
  disk: 50,
  label: "exp-1",
  onstart: "echo ready",
  runtype: "ssh_direc ssh_proxy",
  ...over,
});

const errorOf = async (p: Promise<unknown>): Promise<VastApiError> => {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof VastApiError, `expected VastApiError, got ${String(e)}`);
    return e;
  }
  assert.fail("expected the call to fail");
};

test("create on-demand: PUT /asks/{offer}/ with price null; new_contract is the instance", async () => {
  const id = await client.createInstance(101, body());
  const [put] = h.server.requestsTo("PUT", "/asks/");
  assert.equal(put?.path, "/api/v0/asks/101/");
  assert.equal(put?.auth, "bearer");
  assert.deepEqual(put?.body, body());
  assert.equal((put?.body as CreateInstanceBody | undefined)?.price, null);
  const inst = await client.showInstance(id);
  assert.equal(inst?.id, id);
  assert.equal(inst?.is_bid, false);
  assert.equal(inst?.dph_total, 0.45);
  assert.equal(inst?.label, "exp-1");
  assert.deepEqual(inst?.extra_env, [["FOO", "bar"]]);
  const shows = h.server.requestsTo("GET", "/instances/");
  assert.equal(shows.at(-1)?.query.owner, "me");
});

test("create interruptible: the bid is the price in the body, and the instance is billed at it", async () => {
  const id = await client.createInstance(102, body({ price: 0.16, label: "bid-1" }));
  const put = h.server.requestsTo("PUT", "/asks/")[0];
  assert.equal((put?.body as CreateInstanceBody | undefined)?.price, 0.16);
  const inst = await client.showInstance(id);
  assert.equal(inst?.is_bid, true);
  assert.equal(inst?.dph_total, 0.16);
});

test("a gone offer is refused with the server's code and message", async () => {
  await client.createInstance(101, body());
  const e = await errorOf(client.createInstance(101, body()));
  assert.equal(e.status, 400);
  assert.equal(e.code, "no_such_ask");
  assert.equal(e.provider, "vast");
  assert.equal(e.retryable, false);
  assert.match(e.message, /Instance type 101 is no longer available/);
});

test("show instances, stop/start, reboot, change bid, destroy: paths and bodies as the CLI sends them", async () => {
  const id = await client.createInstance(101, body());
  const bid = await client.createInstance(103, body({ price: 0.1, label: "b" }));
  assert.deepEqual((await client.showInstances()).map((i) => i.id).sort(), [id, bid].sort());
  assert.equal(h.server.requestsTo("GET", "/instances").at(-1)?.path, "/api/v0/instances");
  assert.equal(h.server.requestsTo("GET", "/instances").at(-1)?.query.owner, "me");

  await client.setState(id, "stopped");
  let inst = await client.showInstance(id);
  assert.equal(inst?.intended_status, "stopped");
  await client.setState(id, "running");
  inst = await client.showInstance(id);
  assert.equal(inst?.intended_status, "running");
  await client.reboot(id);
  await client.changeBid(bid, 0.12);
  await client.destroy(id);
  assert.equal(await client.showInstance(id), undefined);

  const puts = h.server.requests.filter((r) => r.method === "PUT" && !r.path.includes("/asks/")).map((r) => [r.path, r.body]);
  assert.deepEqual(puts, [
    [`/api/v0/instances/${id}/`, { state: "stopped" }],
    [`/api/v0/instances/${id}/`, { state: "running" }],
    [`/api/v0/instances/reboot/${id}/`, {}],
    [`/api/v0/instances/bid_price/${bid}/`, { client_id: "me", price: 0.12 }],
  ]);
  const del = h.server.requestsTo("DELETE", "/instances/");
  assert.deepEqual(
    del.map((r) => [r.path, r.body]),
    [[`/api/v0/instances/${id}/`, {}]],
  );
  // Destroying what is gone: the API answers success:false, which is an error the caller can type-check.
  const e = await errorOf(client.destroy(id));
  assert.equal(e.code, "refused");
  assert.match(e.message, /not found/);
});

test("logs: request, then poll the result URL (no key sent there) until the upload lands", async () => {
  const id = await client.createInstance(101, body());
  h.server.setLogs(id, "one\ntwo\nthree\nfour\n");
  h.server.delayLogs(2);
  const text = await client.logs(id, { tail: 2 });
  assert.equal(text, "three\nfour\n");
  const [req] = h.server.requestsTo("PUT", "/instances/request_logs/");
  assert.equal(req?.path, `/api/v0/instances/request_logs/${id}/`);
  assert.deepEqual(req?.body, { tail: "2" });
  const fetches = h.server.requests.filter((r) => r.path.startsWith("/instance_logs/"));
  assert.deepEqual(
    fetches.map((r) => r.status),
    [404, 404, 200],
  );
  for (const f of fetches) assert.equal(f.authorization, undefined, "the presigned log URL gets no credentials");
  assert.deepEqual(clock.sleeps, [300, 300, 300]);
});

test("logs that never land fail after the CLI's 30 polls", async () => {
  const id = await client.createInstance(101, body());
  h.server.delayLogs(1000);
  const e = await errorOf(client.logs(id));
  assert.equal(e.code, "logs_not_ready");
  assert.equal(h.server.requests.filter((r) => r.path.startsWith("/instance_logs/")).length, 30);
});

test("429 is retried with the CLI's backoff (0.15 s ×1.5) and gives up after 3 attempts", async () => {
  h.server.throttle(2);
  const offers = await client.searchOffers({ num_gpus: { eq: 2 } });
  assert.deepEqual(
    offers.map((o) => o.id),
    [104],
  );
  assert.deepEqual(
    h.server.requests.map((r) => r.status),
    [429, 429, 200],
  );
  assert.deepEqual(clock.sleeps, [150, 225]);

  h.server.throttle(5);
  const e = await errorOf(client.showInstances());
  assert.equal(e.status, 429);
  assert.equal(e.retryable, true);
  assert.equal(h.server.requests.filter((r) => r.status === 429).length, 2 + 3);
});

test("the API key never appears in an error, even when the server echoes it back", async () => {
  h.server.echoAuthInErrors = true;
  const e1 = await errorOf(client.createInstance(999, body()));
  assert.match(e1.message, /\*\*\*/, "the echoed header is there, redacted");
  const bad = new VastClient({ apiKey: `${API_KEY}-wrong`, baseUrl: h.server.url, clock });
  const e2 = await errorOf(bad.showInstances());
  assert.equal(e2.status, 401);
  assert.equal(e2.code, "auth_error");
  const unreachable = new VastClient({ apiKey: API_KEY, baseUrl: "http://127.0.0.1:9/api/v0", clock });
  const e3 = await errorOf(unreachable.showInstances());
  assert.equal(e3.code, "network");
  assert.equal(e3.retryable, true);
  assert.ok(!inspect(client, { showHidden: true, depth: 5 }).includes(API_KEY), "the client object does not show its key");
  assert.ok(!JSON.stringify(client).includes(API_KEY));
  for (const e of [e1, e2, e3]) {
    const everything = `${e.message} ${e.serverMsg ?? ""} ${e.stack ?? ""} ${JSON.stringify(e)}`;
    assert.ok(!everything.includes(API_KEY), everything);
    assert.ok(!everything.includes(encodeURIComponent(API_KEY)), everything);
    assert.ok(!everything.includes("secret"), everything);
  }
});

test("a query-string api_key is also accepted by the server (the CLI sends both)", async () => {
  const res = await fetch(`${h.server.url}/users/current/?api_key=${encodeURIComponent(API_KEY)}`);
  assert.equal(res.status, 200);
  assert.equal(h.server.requests.at(-1)?.auth, "query");
  const anon = await fetch(`${h.server.url}/users/current/`);
  assert.equal(anon.status, 401);
});

test("a read that gets no answer is abandoned at the timeout and retried; a create is not repeated", async () => {
  const quick = new VastClient({ apiKey: API_KEY, baseUrl: h.server.url, clock, timeoutMs: 300 });
  h.server.stall(1);
  const listed = await quick.showInstances();
  assert.ok(Array.isArray(listed));
  assert.deepEqual(
    h.server.requests.filter((r) => /\/api\/v0\/instances\/?$/.test(r.path)).map((r) => r.status),
    [0, 200],
  );
  h.server.stall(1);
  const e = await errorOf(quick.createInstance(101, body()));
  assert.equal(e.code, "network");
  assert.match(e.message, /^vast: PUT \/asks\/101\/: no answer within 0\.3 s$/);
  assert.equal(h.server.requests.filter((r) => r.method === "PUT" && r.path === "/api/v0/asks/101/").length, 1);
});
