import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, test } from "node:test";
import { singleQuote } from "../../../src/base/shell-quote.js";
import { volumesOf } from "../../../src/providers/gcp/disks.js";
import { classifyGcpError, gcpErrorInfo } from "../../../src/providers/gcp/gcp-errors.js";
import { formatGcpId, parseGcpId, regionOf } from "../../../src/providers/gcp/gcp-instance-id.js";
import { fromLabels, labelFilter, toLabels } from "../../../src/providers/gcp/gcp-labels.js";
import { requestIdOf, resourceName } from "../../../src/providers/gcp/gcp-names.js";
import { shutdownScript, startupScript } from "../../../src/providers/gcp/startup-script.js";
import { parseTpuType } from "../../../src/providers/gcp/tpu-types.js";

describe("GCP naming, labels and ids", () => {
  test("spotrun tags become valid GCP labels and come back", () => {
    const labels = toLabels({ "spotrun:job": "j-AB1", "spotrun:spot-max-price": "0.5", "Team/X": "ml ops" });
    assert.deepEqual(labels, { "spotrun-job": "j-ab1", "spotrun-spot-max-price": "0-5", "team-x": "ml-ops" });
    for (const [k, v] of Object.entries(labels)) {
      assert.match(k, /^[a-z][a-z0-9_-]{0,62}$/);
      assert.match(v, /^[a-z0-9_-]{0,63}$/);
    }
    assert.deepEqual(fromLabels({ "spotrun-job": "j-1", other: "x" }), { "spotrun:job": "j-1", other: "x" });
    assert.equal(
      labelFilter({ "spotrun:job": "j-1", "spotrun:attempt": "j-1-a2" }),
      'labels.spotrun-job = "j-1" AND labels.spotrun-attempt = "j-1-a2"',
    );
  });

  test("resource names are valid, stable per token and distinct across tokens", () => {
    const a = resourceName("spotrun-j-mk2x9abc-a1-n0");
    assert.equal(a, resourceName("spotrun-j-mk2x9abc-a1-n0"));
    assert.notEqual(a, resourceName("spotrun-j-mk2x9abc-a2-n0"));
    for (const t of ["X".repeat(200), "9-starts-with-digit", "UPPER_and.dots", "-"])
      assert.match(resourceName(t, "n3"), /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/);
    assert.match(requestIdOf("k"), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(requestIdOf("k"), requestIdOf("k"));
  });

  test("instance ids carry the zone and round-trip", () => {
    const vm = formatGcpId({ kind: "vm", zone: "europe-north1-b", name: "x" });
    assert.deepEqual(parseGcpId(vm), { kind: "vm", zone: "europe-north1-b", name: "x" });
    const w = formatGcpId({ kind: "tpu", zone: "us-central2-b", queuedResource: "qr", worker: 3 });
    assert.deepEqual(parseGcpId(w), { kind: "tpu", zone: "us-central2-b", queuedResource: "qr", worker: 3 });
    assert.equal(parseGcpId("i-0123"), undefined);
    assert.equal(regionOf("us-central1-a"), "us-central1");
  });

  test("TPU types: hosts per slice and default runtime", () => {
    assert.deepEqual(
      ["v5litepod-8", "v5litepod-16", "v4-8", "v4-32", "v5p-16", "v6e-8", "v6e-256", "v2-8", "v3-32"].map(
        (t) => parseTpuType(t)?.hosts,
      ),
      [1, 4, 1, 4, 2, 1, 64, 1, 4],
    );
    assert.equal(parseTpuType("v5litepod-8")?.runtimeVersion, "v2-alpha-tpuv5-lite");
    assert.equal(parseTpuType("a100-8"), undefined);
  });
});

describe("GCP error classification reads codes, not messages", () => {
  test("Compute operation codes and HTTP reasons", () => {
    const cls = (reasons: string[], httpStatus?: number) => classifyGcpError({ reasons, ...(httpStatus ? { httpStatus } : {}) });
    assert.deepEqual(cls(["ZONE_RESOURCE_POOL_EXHAUSTED"]), {
      kind: "refused",
      refusal: "capacity",
      code: "ZONE_RESOURCE_POOL_EXHAUSTED",
    });
    assert.deepEqual(cls(["ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS"]), {
      kind: "refused",
      refusal: "capacity",
      code: "ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS",
    });
    assert.deepEqual(cls(["QUOTA_EXCEEDED"]), { kind: "refused", refusal: "quota", code: "QUOTA_EXCEEDED" });
    assert.deepEqual(cls(["quotaExceeded"], 403), { kind: "refused", refusal: "quota", code: "quotaExceeded" });
    assert.deepEqual(cls(["rateLimitExceeded"], 403), { kind: "retryable", code: "rateLimitExceeded" });
    assert.deepEqual(cls(["alreadyExists"], 409), { kind: "already-exists" });
    assert.deepEqual(cls(["notFound"], 404), { kind: "not-found" });
    assert.deepEqual(cls([], 503), { kind: "retryable", code: "503" });
    assert.deepEqual(cls(["forbidden"], 403), { kind: "other", code: "forbidden" });
    // The wording of a message never matters.
    assert.deepEqual(cls(["invalid"], 400), { kind: "other", code: "invalid" });
  });

  test("the error body as gaxios carries it, and a google-gax GoogleError", () => {
    const body = {
      error: {
        code: 403,
        message: "does not have enough resources",
        status: "PERMISSION_DENIED",
        errors: [{ reason: "quotaExceeded" }],
      },
    };
    const gaxios = Object.assign(new Error(JSON.stringify(body)), { config: {}, response: { status: 403 } });
    assert.deepEqual(gcpErrorInfo(gaxios), { httpStatus: 403, status: "PERMISSION_DENIED", reasons: ["quotaExceeded"] });
    class GoogleError extends Error {
      code = 8;
      reason = "RESOURCE_EXHAUSTED_IN_ZONE";
    }
    assert.deepEqual(gcpErrorInfo(new GoogleError("x")), {
      status: "RESOURCE_EXHAUSTED",
      reasons: ["RESOURCE_EXHAUSTED_IN_ZONE"],
    });
    assert.deepEqual(classifyGcpError(gcpErrorInfo(new GoogleError("x"))), {
      kind: "refused",
      refusal: "capacity",
      code: "RESOURCE_EXHAUSTED",
    });
    assert.equal(gcpErrorInfo(new Error("plain")), undefined);
  });
});

describe("agent scripts", () => {
  test("startup mounts the disks and writes the ready marker, installing nothing; the scripts parse", () => {
    const up = startupScript({ volumes: [{ name: "workspace", mount: "/mnt/persist dir" }] });
    assert.match(up, /mount_volume 'workspace' '\/mnt\/persist dir'/);
    assert.doesNotMatch(startupScript({}), /mount_volume/);
    assert.doesNotMatch(up, /npm|curl|apt-get|nodesource/);
    assert.match(up, /touch \/var\/lib\/spotrun\/boot-ready/);
    const down = shutdownScript({ sshUser: "spotrun" });
    assert.match(down, /kill -0 "\$pid"/);
    assert.match(
      down,
      /timeout 25 runuser -u spotrun -- "\$home\/\.spotrun\/bin\/spotrun" agent save --config "\$cfg" --reason shutdown/,
    );
    assert.throws(() => shutdownScript({ sshUser: "x; reboot" }));
    for (const script of [up, down]) {
      const r = spawnSync("bash", ["-n"], { input: script });
      assert.equal(r.status, 0, r.stderr.toString());
    }
    assert.equal(singleQuote("a'b"), `'a'\\''b'`);
  });
});

describe("task volumes", () => {
  test("read from resources.volumes and checked", () => {
    assert.deepEqual(volumesOf({}), []);
    assert.deepEqual(volumesOf({ volumes: [{ name: "claude-persist", size: 10, mount: "/mnt/persist", type: "pd-ssd" }] }), [
      { name: "claude-persist", sizeGb: 10, mount: "/mnt/persist", type: "pd-ssd" },
    ]);
    for (const bad of [
      { volumes: "x" },
      { volumes: [{ name: "Bad_Name", size: 1, mount: "/m" }] },
      { volumes: [{ name: "ok", size: 0, mount: "/m" }] },
      { volumes: [{ name: "ok", size: 1, mount: "rel" }] },
    ])
      assert.throws(
        () => volumesOf(bad),
        (e: Error & { code?: string }) => e.code === "BAD_VOLUMES",
      );
  });
});
