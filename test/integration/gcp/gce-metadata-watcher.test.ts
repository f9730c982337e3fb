import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";
import type { Notice } from "../../../src/agent/notice.js";
import { GceMetadataWatcher, metadataBaseUrl, parseGceValue } from "../../../src/agent/watchers/gce-metadata-watcher.js";
import { seededRandom } from "../../../src/base/random.js";
import { MetadataServer } from "../../servers/gcp/metadata-server.js";

const until = async (cond: () => boolean, ms = 2000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe("GceMetadataWatcher against a GCE-format metadata server", () => {
  let server: MetadataServer;
  let watcher: GceMetadataWatcher;
  let notices: Notice[];

  beforeEach(async () => {
    server = await new MetadataServer().start();
    notices = [];
    watcher = new GceMetadataWatcher({
      baseUrl: metadataBaseUrl({ GCE_METADATA_HOST: server.host }),
      random: seededRandom(1),
      backoffBaseMs: 20,
      backoffCapMs: 100,
    });
  });
  afterEach(async () => {
    await watcher.stop();
    await server.close();
  });

  test("a `preempted` flip is seen within 0.5 s through the ETag long poll", async () => {
    watcher.start((n) => notices.push(n));
    await until(() => server.hanging === 2);
    const waits = server.http.received.filter((r) => r.query.get("wait_for_change") === "true");
    assert.ok(waits.every((r) => r.headers["metadata-flavor"] === "Google"));
    assert.equal(
      waits.find((r) => r.path.endsWith("/instance/preempted"))?.query.get("last_etag"),
      MetadataServer.etagOf("FALSE"),
    );
    const flippedAt = Date.now();
    server.set("instance/preempted", "TRUE");
    await until(() => notices.length === 1, 500);
    const n = notices[0];
    assert.ok(n?.kind === "interruption");
    assert.equal(n.action, "preempted");
    assert.equal(n.source, "gce-metadata");
    assert.equal(n.deadline - n.seenAt, 30_000);
    assert.ok(n.seenAt - flippedAt < 500, `seen after ${n.seenAt - flippedAt} ms`);
  });

  test("a notice already set when the agent starts is reported at once, and only once", async () => {
    server.set("instance/preempted", "TRUE");
    watcher.start((n) => notices.push(n));
    await until(() => notices.length === 1, 500);
    await until(() => server.hanging === 2);
    assert.equal(notices.length, 1);
  });

  test("TERMINATE_ON_HOST_MAINTENANCE is a maintenance notice; a live migration is not", async () => {
    watcher.start((n) => notices.push(n));
    await until(() => server.hanging === 2);
    server.set("instance/maintenance-event", "MIGRATE_ON_HOST_MAINTENANCE");
    await until(() => server.hanging === 2);
    server.set("instance/maintenance-event", "TERMINATE_ON_HOST_MAINTENANCE");
    await until(() => notices.length === 1, 500);
    assert.deepEqual(
      { ...notices[0], seenAt: 0 },
      { kind: "maintenance", code: "TERMINATE_ON_HOST_MAINTENANCE", source: "gce-metadata", seenAt: 0 },
    );
  });

  test("server errors are retried with a bounded backoff, and the notice still arrives", async () => {
    server.failNext = 6;
    watcher.start((n) => notices.push(n));
    await until(() => server.hanging === 2, 3000);
    assert.ok(server.http.received.length >= 8, "the 503s were retried");
    server.set("instance/preempted", "TRUE");
    await until(() => notices.length === 1, 500);
  });

  test("stop() aborts the hanging requests and resolves promptly", async () => {
    watcher.start((n) => notices.push(n));
    await until(() => server.hanging === 2);
    const t0 = Date.now();
    await watcher.stop();
    assert.ok(Date.now() - t0 < 200);
    await until(() => server.hanging === 0, 500);
    const count = server.http.received.length;
    server.set("instance/preempted", "TRUE");
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(server.http.received.length, count);
    assert.equal(notices.length, 0);
  });

  test("the metadata server refuses requests without Metadata-Flavor", async () => {
    const res = await fetch(`http://${server.host}/computeMetadata/v1/instance/preempted`);
    assert.equal(res.status, 403);
    await res.text();
  });

  test("parseGceValue: unknown values are a no-op", () => {
    assert.equal(parseGceValue("instance/preempted", "FALSE", 1), undefined);
    assert.equal(parseGceValue("instance/maintenance-event", "SOMETHING_NEW", 1), undefined);
    assert.equal(metadataBaseUrl({ GCE_METADATA_IP: "10.0.0.9" }), "http://10.0.0.9/computeMetadata/v1");
    assert.equal(metadataBaseUrl({}), "http://metadata.google.internal/computeMetadata/v1");
  });
});
