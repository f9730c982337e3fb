import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { cp, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { systemClock } from "../../src/base/clock.js";
import { silentLogger } from "../../src/base/logger.js";
import { spotrunCommand } from "../../src/base/self.js";
import { submitJob } from "../../src/core/submit.js";
import { closeGcpClients, type GcpClients } from "../../src/providers/gcp/gcp-clients.js";
import { createLoopbackSshHost } from "../../src/providers/local/ssh-hosts/create-loopback-ssh-host.js";
import type { LoopbackSshHost } from "../../src/providers/local/ssh-hosts/ssh-host.js";
import { supervisorSpec } from "../../src/sessions/session-lifecycle.js";
import { parseSessionText } from "../../src/sessions/session-schema.js";
import { gcpDiskName, sessionTask } from "../../src/sessions/session-task.js";
import { openSqlite } from "../../src/state/open-sqlite.js";
import { StateStore } from "../../src/state/state-store.js";
import { clientsFor, PROJECT } from "../integration/gcp/gcp-fixture.js";
import { ComputeServer } from "../servers/gcp/compute-server.js";
import { MetadataServer } from "../servers/gcp/metadata-server.js";
import { killProcessesUnder } from "../support-cli/spotrun-cli.js";
import { LoopbackGcpProvider, vmsInOrder } from "../support-cloud/gcp-loopback.js";
import { fastController } from "../support-cloud/managed-job-kit.js";

/**
 * A session through the GCP provider, end to end except for Google: the real controller and
 * GcpProvider, @google-cloud/compute against the in-repo Compute server, each VM a real sshd on
 * 127.0.0.1 watching its own GCE-format metadata server. The session's persistent disk is one
 * directory both VMs see at its mount path (as the one disk, moved from VM to VM, would be); the
 * Compute server shows it created once and attached to each VM at insert.
 */

const run = promisify(execFile);
const ZONE = "us-central1-a";
const NAME = `gcp${process.pid}`;
let root: string;
let hosts: LoopbackSshHost[] = [];
let compute: ComputeServer;
const metadata: MetadataServer[] = [];
let clients: GcpClients;

const { order: vmOrder, machine } = vmsInOrder(hosts, metadata);

before(async () => {
  root = await mkdtemp(join(tmpdir(), "spotrun-session-gcp-"));
  for (let k = 0; k < 2; k++)
    hosts.push(await createLoopbackSshHost({ id: `sess-gcp-${process.pid}-${k}`, home: join(root, `vm-${k}`) }));
  compute = await new ComputeServer({ project: PROJECT }).start();
  for (let k = 0; k < 2; k++) metadata.push(await new MetadataServer().start());
  clients = await clientsFor(compute.http, root);
});

after(async () => {
  await run("tmux", ["-L", `spotrun-${NAME}`, "kill-server"]).catch(() => {});
  await closeGcpClients(clients);
  for (const m of metadata) await m.close();
  await compute?.close();
  for (const h of hosts) await h.stop();
  hosts = [];
  // A failed run may leave an agent or supervisor of a VM behind; nothing under root survives.
  killProcessesUnder(root);
  await rm(root, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
});

test("GCP: the session's disk follows it to the replacement VM; agents resume by name; the save fits the budget", async () => {
  const home = join(root, "home");
  const work = join(root, "work");
  const disk = join(root, "disk");
  await mkdir(work, { recursive: true });
  await cp(join(process.cwd(), "examples", "sessions", "agent.sh"), join(work, "agent.sh"));
  const file = parseSessionText(
    `resources: {provider: gcp, instance_type: n2-standard-4, zone: ${ZONE}, spot: true, on_interruption: stop}
workdir: .
persist: [~/.agent-state, ~/workspaces]
agents:
  - {name: coder, command: ./agent.sh, resume_command: ./agent.sh --resume}
  - {name: reviewer, command: ./agent.sh, resume_command: ./agent.sh --resume}
envs: {AGENT_STEP_SECONDS: 0.1}
volume: {size: 10GB}
`,
    "session.yaml",
  );
  // The mount path is the only change from a real VM: a directory both loopback VMs share.
  const spec = supervisorSpec(home, NAME, file);
  spec.volume = { kind: "mount", path: disk, size_bytes: spec.volume.size_bytes };
  const task = sessionTask(NAME, file, spec, spotrunCommand());

  const store = new StateStore(await openSqlite(home));
  const provider = new LoopbackGcpProvider(
    { home, logger: silentLogger, clients, project: PROJECT },
    { machine, knownHostsPath: join(root, "known_hosts") },
  );
  const controller = fastController(store, provider, home, silentLogger);
  const [jobId] = await submitJob(store, { task, file: join(work, "session.yaml"), baseDir: work }, home, systemClock);
  assert.ok(jobId);

  const history = (a: string) => {
    const p = join(disk, "home", ".agent-state", a, "history");
    return existsSync(p) ? readFileSync(p, "utf8").trim().split("\n") : [];
  };
  const notes = (a: string) => {
    const p = join(disk, "home", "workspaces", a, "notes.txt");
    return existsSync(p) ? readFileSync(p, "utf8").trim().split("\n").length : 0;
  };
  let phase: "first" | "noticed" | "preempted" | "stopping" = "first";
  let windowsOnVm1: string[] = [];
  let diskUsersOnVm1: string[] = [];
  const deadline = Date.now() + 50_000;
  const result = await controller.run({
    until: async () => {
      const job = await store.job(jobId);
      if (!job || ["SUCCEEDED", "FAILED", "CANCELLED"].includes(job.state)) return true;
      if (Date.now() > deadline) {
        const log = (k: number) => {
          try {
            return readFileSync(join(hosts[k]?.home ?? "", ".spotrun", "run.log"), "utf8").slice(-1500);
          } catch {
            return "";
          }
        };
        throw new Error(
          `session job still ${job.state} after 50 s (${phase}): ${job.message}; histories ${JSON.stringify(["coder", "reviewer"].map(history))}; VM 1 log: ${log(1)}`,
        );
      }
      if (phase === "first" && vmOrder[0] && notes("coder") >= 3 && notes("reviewer") >= 3) {
        // GCE's notice; the VM itself stops 30 s later unless the controller deleted it first.
        phase = "noticed";
        metadata[0]?.set("instance/preempted", "TRUE");
      } else if (phase === "noticed" && (await store.attempt(jobId, 0))?.state === "ENDED") {
        phase = "preempted";
        if (compute.instances.has(`${ZONE}/${vmOrder[0]}`)) compute.preempt(ZONE, vmOrder[0] as string);
      } else if (phase === "preempted" && vmOrder[1] && ["coder", "reviewer"].every((a) => history(a).length >= 3)) {
        const { stdout } = await run("tmux", ["-L", `spotrun-${NAME}`, "list-windows", "-t", NAME, "-F", "#{window_name}"]);
        windowsOnVm1 = stdout.trim().split("\n");
        diskUsersOnVm1 = compute.disks.get(`${ZONE}/${gcpDiskName(NAME)}`)?.users ?? [];
        // `session stop`'s request, written where the agent on VM 1 reads it.
        writeFileSync(
          join(hosts[1]?.home ?? "", ".spotrun", "control.json"),
          JSON.stringify({ action: "checkpoint-and-stop", reason: "session-stop" }),
        );
        phase = "stopping";
      }
      return false;
    },
  });
  assert.equal(result, "done");
  const job = await store.job(jobId);
  const events = await store.events(jobId);
  await store.close();
  assert.equal(job?.state, "CANCELLED", job?.message ?? "");
  assert.equal(job?.preemptions, 1);

  // The disk: created once in the zone, attached to both VMs at insert, held only by the replacement.
  const diskName = gcpDiskName(NAME);
  const creates = compute.apiCalls.filter((c) => c.method === "POST" && c.path.endsWith(`/zones/${ZONE}/disks`));
  assert.equal(creates.length, 1);
  const inserts = compute.apiCalls.filter((c) => c.method === "POST" && c.path.endsWith(`/zones/${ZONE}/instances`));
  assert.equal(inserts.length, 2);
  for (const ins of inserts) {
    const d = ((ins.json as { disks: { deviceName: string; source: string }[] }).disks ?? []).find(
      (x) => x.deviceName === diskName,
    );
    assert.ok(d?.source.endsWith(`/disks/${diskName}`), "attached at insert");
    const md = (ins.json as { metadata: { items: { key: string; value: string }[] } }).metadata.items;
    assert.ok(md.find((i) => i.key === "startup-script")?.value.includes(`mount_volume '${diskName}' '${disk}'`));
  }
  const deleteVm0 = compute.apiCalls.findIndex((c) => c.method === "DELETE" && c.path.endsWith(`/instances/${vmOrder[0]}`));
  assert.ok(deleteVm0 >= 0 && deleteVm0 < compute.apiCalls.indexOf(inserts[1] as (typeof compute.apiCalls)[number]));
  assert.equal(diskUsersOnVm1.length, 1);
  assert.ok(diskUsersOnVm1[0]?.endsWith(`/instances/${vmOrder[1]}`), "the disk is held by the replacement only");

  // Agents back by name, their conversations continued with resume_command.
  assert.deepEqual(windowsOnVm1, ["coder", "reviewer"]);
  for (const a of ["coder", "reviewer"]) {
    const h = history(a);
    const conv = h[0]?.replace(/^started /, "");
    assert.deepEqual(h, [`started ${conv}`, `stopped ${conv}`, `resumed ${conv}`, `stopped ${conv}`]);
  }

  // Both saves (the preemption's and the stop's) inside the 25 s budget, from the job's event log.
  const steps = events
    .filter((e) => e.kind === "session_step")
    .map((e) => JSON.parse(e.data) as { attempt: number; step: string; ms: number; detail?: string });
  const saves = steps.filter((s) => s.step === "save_total");
  assert.deepEqual(
    saves.map((s) => s.attempt),
    [0, 1],
  );
  for (const s of saves) assert.ok(s.ms < 25_000, `save ${s.ms} ms`);
  assert.deepEqual(
    steps.filter((s) => s.step === "agents_started").map((s) => s.detail),
    ["coder (new), reviewer (new)", "coder (resumed), reviewer (resumed)"],
  );
  assert.ok(events.some((e) => e.kind === "notice" && (JSON.parse(e.data) as { source: string }).source === "gce-metadata"));
});
