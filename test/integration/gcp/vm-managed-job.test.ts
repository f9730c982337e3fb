import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { systemClock } from "../../../src/base/clock.js";
import { createLogger, silentLogger } from "../../../src/base/logger.js";
import { submitJob } from "../../../src/core/submit.js";
import { closeGcpClients, type GcpClients } from "../../../src/providers/gcp/gcp-clients.js";
import { ensureBareRootfs } from "../../../src/providers/local/bare-root/bare-rootfs.js";
import { createBareSshHost } from "../../../src/providers/local/ssh-hosts/create-bare-ssh-host.js";
import type { BareSshHost } from "../../../src/providers/local/ssh-hosts/ssh-host.js";
import { loadTaskFile } from "../../../src/spec/load-task.js";
import { openSqlite } from "../../../src/state/open-sqlite.js";
import { StateStore } from "../../../src/state/state-store.js";
import { ComputeServer } from "../../servers/gcp/compute-server.js";
import { GcsServer } from "../../servers/gcp/gcs-server.js";
import { MetadataServer } from "../../servers/gcp/metadata-server.js";
import { LoopbackGcpProvider, vmsInOrder } from "../../support-cloud/gcp-loopback.js";
import { agentEvents, fastController, serviceAddress, trainerJob } from "../../support-cloud/managed-job-kit.js";
import { clientsFor, PROJECT } from "./gcp-fixture.js";

/**
 * A managed job on a Compute Engine Spot VM, end to end except for Google itself: the real
 * controller and GcpProvider, @google-cloud/compute against the in-repo Compute server (whose
 * us-central1-a is out of capacity, so every launch fails over to -b), each VM a bare host (its own
 * namespace and minimal Debian root, nothing installed) that runs its metadata's startup-script as
 * GCE does, the agent watching a GCE-format metadata server and checkpointing to the GCS server.
 * GCE reclaims the first VM (metadata `preempted` → TRUE, the VM deleted, a `preempted` operation
 * logged); the job must resume on a new Spot VM from its newest checkpoint.
 */

const BUCKET = "vm-ckpt";
let root: string;
let hosts: BareSshHost[] = [];
let svc: { address: string; close(): void };
let compute: ComputeServer;
let gcs: GcsServer;
const metadata: MetadataServer[] = [];
let clients: GcpClients;
const savedEmulator = process.env.STORAGE_EMULATOR_HOST;

/** VMs in order of first sight: VM k is host k and metadata server k. */
const { order: vmOrder, machine } = vmsInOrder(hosts, metadata);

// The bare hosts boot from a cached Debian root that a cold machine builds first (minutes;
// scripts/test.sh starts it beside the other tests): wait for it here, not inside a timed step.
before(() => ensureBareRootfs(), { timeout: 900_000 });
before(async () => {
  root = await mkdtemp(join(tmpdir(), "spotrun-vm-e2e-"));
  svc = await serviceAddress(`gcp-svc-${process.pid % 100000}`, 190);
  for (let k = 0; k < 2; k++)
    hosts.push(await createBareSshHost({ id: `gvm-${process.pid % 100000}-${k}`, index: 191 + k, home: join(root, `vm-${k}`) }));
  compute = await new ComputeServer({ project: PROJECT }).start();
  compute.failures.set("us-central1-a", { code: "ZONE_RESOURCE_POOL_EXHAUSTED", via: "operation" });
  gcs = await new GcsServer([BUCKET]).start(svc.address);
  process.env.STORAGE_EMULATOR_HOST = gcs.http.url;
  for (const h of hosts) metadata.push(await new MetadataServer().start(h.gateway));
  clients = await clientsFor(compute.http, root);
});

after(async () => {
  if (savedEmulator === undefined) delete process.env.STORAGE_EMULATOR_HOST;
  else process.env.STORAGE_EMULATOR_HOST = savedEmulator;
  await closeGcpClients(clients);
  for (const m of metadata) await m.close();
  await gcs?.close();
  await compute?.close();
  for (const h of hosts) await h.stop();
  hosts = [];
  svc?.close();
  await rm(root, { recursive: true, force: true });
});

test("spot VM: us-central1-a exhausted → -b, preempted mid-run, deleted, resumed on a new spot VM from its GCS checkpoint", async () => {
  // The classic path: the job stops on the notice and resumes mid-run on a new instance (the bare
  // hosts outlive the notice, so a warm replacement would let the 4 s trainer finish first;
  // replace_on_notice has its own e2e, test/e2e/replace-on-notice.test.ts).
  const { home, taskPath } = await trainerJob(
    root,
    "vm-e2e",
    `resources: {provider: gcp, instance_type: n2-standard-4, zone: us-central1-a, spot: true}
envs: {TOTAL_STEPS: 80, CHECKPOINT_EVERY: 10, STEP_SECONDS: 0.05}
checkpoint: {dir: checkpoints, store: "gs://${BUCKET}/jobs"}
recovery: {max_restarts: 3, replace_on_notice: false}
`,
  );
  const store = new StateStore(await openSqlite(home));
  const provider = new LoopbackGcpProvider(
    { home, logger: silentLogger, clients, project: PROJECT },
    {
      machine,
      knownHostsPath: join(root, "known_hosts"),
      env: { STORAGE_EMULATOR_HOST: gcs.http.url },
      checkAddress: (info) => assert.equal(info.address, compute.natIP, "the address came from the instance's accessConfigs"),
      startupScript: (info) => {
        const name = info.id.split("/").pop();
        const inst = [...compute.instances.values()].find((i) => i.name === name);
        const items = (inst?.metadata as { items?: { key: string; value: string }[] } | undefined)?.items ?? [];
        return items.find((i) => i.key === "startup-script")?.value;
      },
    },
  );
  const debug = process.env.GCP_E2E_DEBUG ? createLogger({ level: "debug" }) : silentLogger;
  const controller = fastController(store, provider, home, debug);
  const [jobId] = await submitJob(store, await loadTaskFile(taskPath), home, systemClock);
  assert.ok(jobId);

  let preempted: string | undefined;
  const deadline = Date.now() + 90_000;
  const result = await controller.run({
    until: async () => {
      const job = await store.job(jobId);
      if (!job || ["SUCCEEDED", "FAILED", "CANCELLED"].includes(job.state)) return true;
      if (Date.now() > deadline)
        throw new Error(
          `job still ${job.state} after 90 s: ${job.message}; VMs ${JSON.stringify([...compute.instances.keys()])}`,
        );
      if (preempted === undefined && vmOrder[0]) {
        try {
          const s = JSON.parse(
            readFileSync(join(hosts[0]?.rootDir ?? "", "root", "workdir", "checkpoints", "state.json"), "utf8"),
          ) as {
            step: number;
          };
          if (s.step >= 20) {
            preempted = vmOrder[0];
            metadata[0]?.set("instance/preempted", "TRUE");
            compute.preempt("us-central1-b", preempted);
          }
        } catch {}
      }
      return false;
    },
  });
  assert.equal(result, "done");
  const job = await store.job(jobId);
  const events = await store.events(jobId);
  await store.close();
  assert.equal(job?.state, "SUCCEEDED", job?.message ?? "");
  assert.equal(job?.preemptions, 1);
  assert.ok(preempted);

  // Each attempt: an insert refused in -a (stockout in the operation), then a spot insert in -b.
  const inserts = compute.apiCalls.filter((c) => c.method === "POST" && /\/zones\/[^/]+\/instances$/.test(c.path));
  assert.deepEqual(
    inserts.map((c) => c.path.split("/")[6]),
    ["us-central1-a", "us-central1-b", "us-central1-a", "us-central1-b"],
  );
  for (const c of inserts)
    assert.deepEqual((c.json as { scheduling: unknown }).scheduling, {
      provisioningModel: "SPOT",
      instanceTerminationAction: "DELETE",
      automaticRestart: false,
      onHostMaintenance: "TERMINATE",
    });
  assert.equal(vmOrder.length, 2);
  assert.equal(compute.instances.size, 0, "no VM left");

  const vm0 = agentEvents(readFileSync(join(hosts[0]?.rootDir ?? "", "root", ".spotrun", "events.jsonl"), "utf8"));
  assert.ok(vm0.some((e) => e.kind === "notice" && e.source === "gce-metadata" && e.action === "preempted"));
  const ended = events
    .filter((e) => e.kind === "attempt_ended")
    .map((e) => JSON.parse(e.data) as { attempt: number; end: string });
  assert.equal(ended.find((e) => e.attempt === 0)?.end, "preempted");
  // Each VM booted from nothing: its startup script ran inside it, the controller brought Node and the agent.
  for (const h of hosts) assert.match(readFileSync(join(h.rootDir, "var", "log", "spotrun-startup.log"), "utf8"), /ready/);
  const boots = events.filter((e) => e.kind === "bootstrapped").map((e) => JSON.parse(e.data) as { node_source: string });
  assert.deepEqual(
    boots.map((b) => b.node_source),
    ["uploaded", "uploaded"],
  );
  const state = JSON.parse(
    readFileSync(join(hosts[1]?.rootDir ?? "", "root", "workdir", "checkpoints", "state.json"), "utf8"),
  ) as {
    step: number;
  };
  assert.equal(state.step, 80);
  assert.match(
    readFileSync(join(hosts[1]?.rootDir ?? "", "root", ".spotrun", "run.log"), "utf8"),
    /start at step [2-7]\d \(restart=true, from g-/,
  );
});
