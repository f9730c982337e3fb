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
import { parseGcpId } from "../../../src/providers/gcp/gcp-instance-id.js";
import type { TpuProgress } from "../../../src/providers/gcp/tpu-slices.js";
import { createBareSshHost } from "../../../src/providers/local/ssh-hosts/create-bare-ssh-host.js";
import type { BareSshHost } from "../../../src/providers/local/ssh-hosts/ssh-host.js";
import type { InstanceInfo } from "../../../src/providers/provider.js";
import { loadTaskFile } from "../../../src/spec/load-task.js";
import { openSqlite } from "../../../src/state/open-sqlite.js";
import { StateStore } from "../../../src/state/state-store.js";
import { GcsServer } from "../../servers/gcp/gcs-server.js";
import { MetadataServer } from "../../servers/gcp/metadata-server.js";
import { TpuServer } from "../../servers/gcp/tpu-server.js";
import { LoopbackGcpProvider, type LoopbackMachine } from "../../support-cloud/gcp-loopback.js";
import { agentEvents, fastController, serviceAddress, trainerJob } from "../../support-cloud/managed-job-kit.js";
import { clientsFor, PROJECT } from "./gcp-fixture.js";

/**
 * A managed JAX-style job on a spot v4-32 slice, end to end except for Google itself: the real
 * controller and GcpProvider, @google-cloud/tpu against the in-repo TPU server, each of the
 * slice's 4 workers a bare host (its own namespace and minimal Debian root, nothing installed)
 * that runs its node's metadata startup-script as root when it boots, as TPU VMs do; the
 * controller ships Node and the agent to every worker. The agents watch a GCE-format metadata
 * server (one per slice, on a service address every worker routes to) and checkpoint to the
 * in-repo GCS server through @google-cloud/storage. The slice is preempted
 * mid-run (metadata `preempted` → TRUE, node PREEMPTED); the job must save, have its node and
 * queued resource deleted, get a new slice and resume from its newest checkpoint.
 */

const ZONE = "us-central2-b";
const BUCKET = "tpu-ckpt";
let root: string;
let hosts: BareSshHost[] = [];
let svc: { address: string; close(): void }[] = [];
let tpu: TpuServer;
let gcs: GcsServer;
const metadata: MetadataServer[] = [];
let clients: GcpClients;
const savedEmulator = process.env.STORAGE_EMULATOR_HOST;

/** Slices in order of first sight: slice k's workers get hosts 4k…4k+3 and metadata server k. */
const sliceOrder: string[] = [];
const sliceIndex = (info: InstanceInfo): number => {
  const ref = parseGcpId(info.id);
  assert.ok(ref?.kind === "tpu", `not a TPU worker id: ${info.id}`);
  if (!sliceOrder.includes(ref.queuedResource)) sliceOrder.push(ref.queuedResource);
  return sliceOrder.indexOf(ref.queuedResource);
};
const machine = (info: InstanceInfo): LoopbackMachine => {
  const ref = parseGcpId(info.id);
  assert.ok(ref?.kind === "tpu");
  const host = hosts[sliceIndex(info) * 4 + ref.worker];
  const meta = metadata[sliceIndex(info)];
  assert.ok(host && meta, `no machine for ${info.id}`);
  return { host, metadata: meta };
};

before(async () => {
  root = await mkdtemp(join(tmpdir(), "spotrun-tpu-e2e-"));
  // Index 0 carries GCS and slice 0's metadata server, index 1 slice 1's; hosts take 2…9.
  for (let k = 0; k < 2; k++) svc.push(await serviceAddress(`gtpu-svc-${process.pid % 100000}-${k}`, 200 + k));
  for (let k = 0; k < 8; k++)
    hosts.push(
      await createBareSshHost({ id: `gtpu-${process.pid % 100000}-${k}`, index: 202 + k, home: join(root, `worker-${k}`) }),
    );
  tpu = await new TpuServer(PROJECT).start();
  tpu.plans.set("v4-32", { states: ["WAITING_FOR_RESOURCES", "WAITING_FOR_RESOURCES", "PROVISIONING", "ACTIVE"], workers: 4 });
  gcs = await new GcsServer([BUCKET]).start(svc[0]?.address);
  process.env.STORAGE_EMULATOR_HOST = gcs.http.url;
  for (const s of svc) metadata.push(await new MetadataServer().start(s.address));
  clients = await clientsFor(tpu.http, root);
});

after(async () => {
  if (savedEmulator === undefined) delete process.env.STORAGE_EMULATOR_HOST;
  else process.env.STORAGE_EMULATOR_HOST = savedEmulator;
  await closeGcpClients(clients);
  for (const m of metadata) await m.close();
  await gcs?.close();
  await tpu?.close();
  for (const h of hosts) await h.stop();
  hosts = [];
  for (const s of svc) s.close();
  svc = [];
  await rm(root, { recursive: true, force: true });
});

test("spot v4-32: WAITING_FOR_RESOURCES → ACTIVE on 4 workers, preempted, node and queued resource deleted, resumed on a new slice", async () => {
  // The classic path: the job stops on the notice and resumes mid-run on a new instance (the bare
  // hosts outlive the notice, so a warm replacement would let the 4 s trainer finish first;
  // replace_on_notice has its own e2e, test/e2e/replace-on-notice.test.ts).
  const { home, taskPath } = await trainerJob(
    root,
    "tpu-e2e",
    `resources: {provider: gcp, tpu: v4-32, zone: ${ZONE}, spot: true}
envs: {TOTAL_STEPS: 80, CHECKPOINT_EVERY: 10, STEP_SECONDS: 0.05}
checkpoint: {dir: checkpoints, store: "gs://${BUCKET}/jobs"}
recovery: {max_restarts: 3, replace_on_notice: false}
`,
  );
  const progress: TpuProgress[] = [];
  const store = new StateStore(await openSqlite(home));
  const provider = new LoopbackGcpProvider(
    {
      home,
      logger: silentLogger,
      clients,
      project: PROJECT,
      tpuPollMs: 20,
      tpuWaitMs: 30_000,
      onProgress: (p) => progress.push(p),
    },
    {
      machine,
      knownHostsPath: join(root, "known_hosts"),
      env: { STORAGE_EMULATOR_HOST: gcs.http.url },
      checkAddress: (info) =>
        assert.match(info.address ?? "", /^127\.0\.1\.[1-4]$/, "the address came from the node's networkEndpoints"),
      startupScript: (info) => {
        const ref = parseGcpId(info.id);
        const qr = [...tpu.queued.values()].find((q) => ref?.kind === "tpu" && q.id === ref.queuedResource);
        const node = qr && tpu.nodes.get(`projects/${PROJECT}/locations/${qr.zone}/nodes/${String(qr.nodeSpec.nodeId)}`);
        return (node?.metadata as Record<string, string> | undefined)?.["startup-script"];
      },
    },
  );
  const debug = process.env.GCP_E2E_DEBUG ? createLogger({ level: "debug" }) : silentLogger;
  const controller = fastController(store, provider, home, debug);
  const [jobId] = await submitJob(store, await loadTaskFile(taskPath), home, systemClock);
  assert.ok(jobId);

  let preempted: string | undefined;
  const deadline = Date.now() + 120_000;
  const result = await controller.run({
    until: async () => {
      const job = await store.job(jobId);
      if (!job || ["SUCCEEDED", "FAILED", "CANCELLED"].includes(job.state)) return true;
      if (Date.now() > deadline)
        throw new Error(
          `job still ${job.state} after 120 s: ${job.message}; slices ${JSON.stringify([...tpu.queued.values()].map((q) => [q.id, q.state]))}`,
        );
      // Once worker 0 of the first slice has checkpointed past step 20, GCE reclaims the slice.
      if (preempted === undefined && sliceOrder[0]) {
        try {
          const s = JSON.parse(
            readFileSync(join(hosts[0]?.rootDir ?? "", "root", "workdir", "checkpoints", "state.json"), "utf8"),
          ) as {
            step: number;
          };
          if (s.step >= 20) {
            preempted = sliceOrder[0];
            metadata[0]?.set("instance/preempted", "TRUE");
            tpu.preempt(preempted);
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

  // What the TPU API was asked: two spot queued resources, each followed to ACTIVE; node then QR deleted for both.
  const creates = tpu.apiCalls.filter((c) => c.method === "POST" && c.path.endsWith("/queuedResources"));
  assert.equal(creates.length, 2);
  assert.ok(creates.every((c) => JSON.stringify((c.json as { spot?: unknown }).spot) === "{}"));
  assert.deepEqual(
    sliceOrder,
    creates.map((c) => c.query.get("queuedResourceId")),
  );
  for (const id of sliceOrder) {
    const deletes = tpu.apiCalls
      .filter((c) => c.method === "DELETE" && c.path.endsWith(`/${id}`))
      .map((c) => c.path.split("/")[6]);
    assert.deepEqual(deletes, ["nodes", "queuedResources"], `slice ${id}: node first, then the queued resource`);
  }
  assert.equal(tpu.queued.size, 0, "no queued resource left");
  assert.equal(tpu.nodes.size, 0, "no node left");
  assert.deepEqual(
    progress.filter((p) => p.queuedResource.endsWith(`/${sliceOrder[0]}`)).map((p) => p.state),
    ["WAITING_FOR_RESOURCES", "PROVISIONING", "ACTIVE"],
  );

  // The agents saw the notice on the metadata server (long poll) and the checkpoint went to GCS.
  assert.ok(
    metadata[0]?.http.received.some(
      (r) => r.query.get("wait_for_change") === "true" && r.headers["metadata-flavor"] === "Google",
    ),
  );
  const worker0 = agentEvents(readFileSync(join(hosts[0]?.rootDir ?? "", "root", ".spotrun", "events.jsonl"), "utf8"));
  assert.ok(
    worker0.some((e) => e.kind === "notice" && e.source === "gce-metadata" && e.action === "preempted"),
    "worker 0's agent saw the preemption on the metadata server",
  );
  assert.ok(
    worker0.some((e) => e.kind === "checkpoint_uploaded"),
    "worker 0's agent uploaded checkpoints",
  );
  const ended = events
    .filter((e) => e.kind === "attempt_ended")
    .map((e) => JSON.parse(e.data) as { attempt: number; end: string });
  assert.equal(ended.find((e) => e.attempt === 0)?.end, "preempted");
  const generations = new Set([...gcs.objects.keys()].filter((k) => k.endsWith("MANIFEST.json")).map((k) => k.split("/")[2]));
  assert.ok(generations.size >= 1, "generations uploaded to GCS");

  // Every worker of both slices booted from nothing: its startup script ran inside its root and
  // wrote the ready marker, and the controller brought it Node and the agent, once per attempt.
  for (const h of hosts) {
    assert.match(readFileSync(join(h.rootDir, "var", "log", "spotrun-startup.log"), "utf8"), /ready/);
    readFileSync(join(h.rootDir, "var", "lib", "spotrun", "boot-ready"));
  }
  const boots = events
    .filter((e) => e.kind === "bootstrapped")
    .map((e) => JSON.parse(e.data) as { attempt: number; instance_id: string; node_source: string; agent_uploaded: boolean });
  assert.deepEqual(
    boots.map((b) => `${b.attempt} ${b.instance_id.split("/").slice(-1)[0]} ${b.node_source} ${b.agent_uploaded}`).sort(),
    [0, 1].flatMap((a) => [0, 1, 2, 3].map((w) => `${a} ${w} uploaded true`)),
  );
  assert.equal(new Set(boots.map((b) => b.instance_id)).size, 8, "one bootstrap per worker of each slice");

  // The second slice's worker 0 resumed from the checkpoint and finished.
  const state = JSON.parse(
    readFileSync(join(hosts[4]?.rootDir ?? "", "root", "workdir", "checkpoints", "state.json"), "utf8"),
  ) as {
    step: number;
  };
  assert.equal(state.step, 80);
  const log = readFileSync(join(hosts[4]?.rootDir ?? "", "root", ".spotrun", "run.log"), "utf8");
  assert.match(log, /start at step [2-7]\d \(restart=true, from g-/);
});
