import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { bucketNameProblem } from "../../../src/checkpoints/bucket-name.js";
import { checkStoreUrl } from "../../../src/checkpoints/open-store.js";
import { parseTpuType } from "../../../src/providers/gcp/tpu-types.js";
import { validateGcpResources } from "../../../src/providers/gcp/validate-gcp-resources.js";
import { resourcesSchema } from "../../../src/spec/task-schema.js";

const gcp = (r: Record<string, unknown>) => resourcesSchema.parse({ provider: "gcp", ...r });
const refused = (r: Record<string, unknown>): string => {
  try {
    validateGcpResources(gcp(r));
  } catch (e) {
    return (e as Error).message;
  }
  return "accepted";
};

describe("GCP resources are checked at submit", () => {
  test("TPU types: only the sizes Cloud TPU has", () => {
    for (const ok of [
      "v2-8",
      "v2-512",
      "v3-2048",
      "v4-8",
      "v4-32",
      "v4-4096",
      "v5p-8",
      "v5p-12288",
      "v5litepod-1",
      "v5litepod-256",
      "v6e-4",
    ])
      assert.ok(parseTpuType(ok), ok);
    for (const bad of [
      "v4-7",
      "v4-12",
      "v2-16",
      "v3-16",
      "v5litepod-2",
      "v5litepod-512",
      "v6e-3",
      "v4-0",
      "v9-8",
      "v4",
      "tpu-v4-8",
    ])
      assert.equal(parseTpuType(bad), undefined, bad);
  });

  test("a bad TPU type, zone or region, or a zone outside the region, is one usage error naming the field", () => {
    assert.equal(refused({ tpu: "v4-32", zone: "us-central2-b" }), "accepted");
    assert.equal(refused({ tpu: "v5litepod-8", region: "us-west4" }), "accepted");
    assert.match(refused({ tpu: "v4-7", zone: "us-central2-b" }), /^resources\.tpu "v4-7" is not a Cloud TPU type$/);
    assert.match(refused({ tpu: "v4-8" }), /^resources\.tpu needs resources\.zone or resources\.region/);
    assert.match(refused({ zone: "us-central1" }), /^resources\.zone "us-central1" is not a GCP zone$/);
    assert.match(refused({ region: "us-central1-a" }), /^resources\.region "us-central1-a" is not a GCP region$/);
    assert.match(
      refused({ zone: "europe-north1-b", region: "us-east1" }),
      /^resources\.zone europe-north1-b is not in resources\.region us-east1$/,
    );
  });

  test("bucket names follow S3's and Cloud Storage's rules", () => {
    for (const ok of ["my-bucket", "a.b.c", "x1y"]) {
      assert.equal(bucketNameProblem("s3", ok), undefined, ok);
      assert.equal(bucketNameProblem("gs", ok), undefined, ok);
    }
    assert.equal(bucketNameProblem("gs", "with_underscore"), undefined);
    assert.ok(bucketNameProblem("s3", "with_underscore"));
    for (const bad of ["My-Bucket", "ab", "-lead", "trail-", "a..b", "192.168.1.1", "x".repeat(64)]) {
      assert.ok(bucketNameProblem("s3", bad), `s3 ${bad}`);
      assert.ok(bucketNameProblem("gs", bad), `gs ${bad}`);
    }
    assert.ok(bucketNameProblem("gs", "goog-bucket"));
    assert.ok(bucketNameProblem("gs", "my-google-bucket"));
    assert.ok(bucketNameProblem("s3", "xn--bucket"));
    assert.throws(() => checkStoreUrl("gs://Bad_Bucket/ckpt", "task.yaml: checkpoint.store"), {
      message:
        /^task\.yaml: checkpoint\.store: bucket "Bad_Bucket" is not valid: a Cloud Storage bucket name has lowercase letters/,
    });
    assert.throws(() => checkStoreUrl("gs:///ckpt", "checkpoint.store"), { message: /has no bucket/ });
    assert.throws(() => checkStoreUrl("ftp://h/x", "checkpoint.store"), { message: /unsupported store/ });
    checkStoreUrl("s3://fine-bucket/prefix", "checkpoint.store");
    checkStoreUrl("file:///tmp/x", "checkpoint.store");
  });
});
