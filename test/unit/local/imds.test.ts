import assert from "node:assert/strict";
import { after, test } from "node:test";
import type { Notice } from "../../../src/agent/notice.js";
import { ImdsWatcher } from "../../../src/agent/watchers/imds-watcher.js";
import { ImdsServer } from "../../../src/providers/local/imds-server.js";

const server = new ImdsServer({
  identity: { instanceId: "i-0123456789abcdef0", instanceType: "local.small", availabilityZone: "local-1a", lifecycle: "spot" },
});
const port = await server.listen();
const base = `http://127.0.0.1:${port}`;
after(() => server.close());

test("IMDSv2 wire rules: TTL range, token required, 404 until a notice", async () => {
  assert.equal(
    (await fetch(`${base}/latest/api/token`, { method: "PUT", headers: { "X-aws-ec2-metadata-token-ttl-seconds": "0" } })).status,
    400,
  );
  assert.equal(
    (await fetch(`${base}/latest/api/token`, { method: "PUT", headers: { "X-aws-ec2-metadata-token-ttl-seconds": "21601" } }))
      .status,
    400,
  );
  const res = await fetch(`${base}/latest/api/token`, {
    method: "PUT",
    headers: { "X-aws-ec2-metadata-token-ttl-seconds": "60" },
  });
  assert.equal(res.headers.get("x-aws-ec2-metadata-token-ttl-seconds"), "60");
  const token = await res.text();
  assert.equal((await fetch(`${base}/latest/meta-data/instance-id`)).status, 401);
  assert.equal(
    (await fetch(`${base}/latest/meta-data/instance-id`, { headers: { "X-aws-ec2-metadata-token": "bogus" } })).status,
    401,
  );
  const get = (p: string) => fetch(`${base}/latest/meta-data/${p}`, { headers: { "X-aws-ec2-metadata-token": token } });
  assert.equal(await (await get("instance-life-cycle")).text(), "spot");
  assert.equal(await (await get("placement/availability-zone")).text(), "local-1a");
  assert.equal((await get("spot/instance-action")).status, 404);
  server.setNotice("terminate", Date.UTC(2026, 0, 1, 0, 2, 0));
  assert.deepEqual(await (await get("spot/instance-action")).json(), { action: "terminate", time: "2026-01-01T00:02:00Z" });
  assert.equal(await (await get("spot/termination-time")).text(), "2026-01-01T00:02:00Z");
});

test("the watcher reports a notice once, within its poll interval, reusing its token", async () => {
  const fresh = new ImdsServer({
    identity: { instanceId: "i-1", instanceType: "t", availabilityZone: "z-1a", lifecycle: "spot" },
  });
  const p = await fresh.listen();
  const w = new ImdsWatcher({ endpoint: `http://127.0.0.1:${p}`, pollMs: 50 });
  const seen: Notice[] = [];
  w.start((n) => seen.push(n));
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(seen.length, 0);
  const t0 = Date.now();
  fresh.setNotice("stop", t0 + 120_000);
  fresh.setRebalance(t0);
  while (seen.filter((n) => n.kind === "interruption").length === 0 && Date.now() - t0 < 2000)
    await new Promise((r) => setTimeout(r, 5));
  const n = seen.find((x) => x.kind === "interruption");
  assert.ok(n && n.kind === "interruption");
  assert.equal(n.action, "stop");
  assert.ok(n.seenAt - t0 < 300, `seen after ${n.seenAt - t0} ms`);
  assert.ok(seen.some((x) => x.kind === "rebalance"));
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(seen.filter((x) => x.kind === "interruption").length, 1, "one notice, not one per poll");
  await w.stop();
  const tokenPuts = fresh.requests.filter((r) => r.path === "/latest/api/token").length;
  assert.equal(tokenPuts, 1, "the token is cached");
  await fresh.close();
});
