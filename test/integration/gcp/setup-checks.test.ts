import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { closeGcpClients, type GcpClients } from "../../../src/providers/gcp/gcp-clients.js";
import { setupChecks } from "../../../src/providers/gcp/setup-checks.js";
import type { CheckOutcome } from "../../../src/providers/setup-check.js";
import { writeAdcFile } from "../../servers/gcp/adc-file.js";
import { ComputeServer } from "../../servers/gcp/compute-server.js";
import { clientsFor, PROJECT } from "./gcp-fixture.js";

describe("spotrun setup checks for GCP", () => {
  let server: ComputeServer;
  let dir: string;
  let clients: GcpClients;

  before(async () => {
    server = await new ComputeServer({ project: PROJECT }).start();
    dir = await mkdtemp(join(tmpdir(), "spotrun-gcp-setup-"));
    clients = await clientsFor(server.http, dir);
  });
  after(async () => {
    await closeGcpClients(clients);
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  const run = async (env: NodeJS.ProcessEnv): Promise<Record<string, CheckOutcome>> => {
    const out: Record<string, CheckOutcome> = {};
    for (const c of setupChecks({ home: dir, env, clients })) out[c.id] = await c.run();
    return out;
  };

  test("nothing configured: each check says what to run", async () => {
    const r = await run({ HOME: join(dir, "nohome") });
    assert.ok(!r["gcp.adc"]?.ok && r["gcp.adc"]?.fix === "gcloud auth application-default login");
    assert.ok(!r["gcp.project"]?.ok && /GOOGLE_CLOUD_PROJECT=/.test(r["gcp.project"]?.fix ?? ""));
    assert.ok(!r["gcp.compute-api"]?.ok);
    const ssh = r["gcp.ssh"];
    assert.ok(ssh && !ssh.ok && /spotrun setup --fix/.test(ssh.fix));
    await mkdir(join(dir, "keys"), { recursive: true });
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "keys", "id_ed25519")]);
    const again = await run({ HOME: join(dir, "nohome") });
    assert.equal(again["gcp.ssh"]?.ok, true);
  });

  test("ADC and project found; Compute answers; a disabled TPU API says how to enable it", async () => {
    const adc = await writeAdcFile(dir, server.http.url, PROJECT);
    const r = await run({ GOOGLE_APPLICATION_CREDENTIALS: adc });
    assert.equal(r["gcp.adc"]?.ok, true);
    assert.deepEqual(r["gcp.project"], { ok: true, detail: `${PROJECT} (from ADC quota_project_id)` });
    assert.equal(r["gcp.compute-api"]?.ok, true, JSON.stringify(r["gcp.compute-api"]));
    assert.ok(server.apiCalls.some((c) => c.path === `/compute/v1/projects/${PROJECT}/regions`));
    const tpu = r["gcp.tpu-api"];
    assert.ok(tpu && !tpu.ok);
    assert.equal(tpu.fix, `gcloud services enable tpu.googleapis.com --project ${PROJECT}`);
  });
});
