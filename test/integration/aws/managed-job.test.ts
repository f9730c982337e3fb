import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { systemClock } from "../../../src/base/clock.js";
import { createLogger, silentLogger } from "../../../src/base/logger.js";
import { CheckpointStore } from "../../../src/checkpoints/generations.js";
import { jobStoreUrl, splitBucketUrl } from "../../../src/checkpoints/open-store.js";
import { S3BlobStore } from "../../../src/checkpoints/s3/s3-blob-store.js";
import { Controller, storeId } from "../../../src/core/controller.js";
import { submitJob } from "../../../src/core/submit.js";
import { AwsProvider } from "../../../src/providers/aws/aws-provider.js";
import { ensureBareRootfs } from "../../../src/providers/local/bare-root/bare-rootfs.js";
import { ImdsServer } from "../../../src/providers/local/imds-server.js";
import { createBareSshHost } from "../../../src/providers/local/ssh-hosts/create-bare-ssh-host.js";
import type { BareSshHost } from "../../../src/providers/local/ssh-hosts/ssh-host.js";
import { type InstanceInfo, TAG } from "../../../src/providers/provider.js";
import { loadTaskFile } from "../../../src/spec/load-task.js";
import { resourcesSchema } from "../../../src/spec/task-schema.js";
import { openSqlite } from "../../../src/state/open-sqlite.js";
import { type JobRow, StateStore } from "../../../src/state/state-store.js";
import type { Transport } from "../../../src/transport/transport.js";
import { sub } from "../../servers/ec2/query-params.js";
import {
  bareTransport,
  FixedProviders,
  fastController,
  serviceAddress,
  trainerJob,
} from "../../support-cloud/managed-job-kit.js";
import { type Ec2Fixture, priceTable, startEc2Fixture } from "./ec2-fixture.js";
import { S3RVER_CREDENTIALS, type S3rverFixture, startS3rver } from "./s3rver-fixture.js";

/**
 * A managed spot job on AWS, end to end except for AWS itself: the real controller and
 * AwsProvider (real EC2Client) against the in-repo EC2 server, checkpoints in s3rver through the
 * real S3 client, and each "instance" a bare host — its own network namespace and minimal Debian
 * root, no Node, no spotrun — with its own IMDSv2 endpoint. Each machine boots as EC2 would boot
 * it: the user data the provider generated runs as root inside its root. The test plays EC2: it
 * posts a spot notice on the first instance's IMDS, lets the agent checkpoint to S3, then reclaims
 * the instance. The job must resume on a new spot instance from the generation in S3.
 */
interface Machine {
  host: BareSshHost;
  imds?: ImdsServer;
  imdsUrl?: string;
}

let root: string;
let fx: Ec2Fixture;
let s3: S3rverFixture;
let svc: { address: string; close(): void };
const machines: Machine[] = [];
const machineOf = new Map<string, Machine>();

/** The AwsProvider with what a bare machine needs: its sshd, its IMDS, S3 credentials the instance role would give. */
class BareAwsProvider extends AwsProvider {
  override agentEnv(info: InstanceInfo): Record<string, string> {
    const m = machineOf.get(info.id);
    assert.ok(m?.imdsUrl, `no IMDS for ${info.id}`);
    return {
      AWS_EC2_METADATA_SERVICE_ENDPOINT: m.imdsUrl,
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
      AWS_REGION: "us-east-1",
    };
  }
  override async transport(info: InstanceInfo): Promise<Transport> {
    let m = machineOf.get(info.id);
    if (!m) {
      m = machines[machineOf.size];
      assert.ok(m, "out of machines");
      machineOf.set(info.id, m);
      m.imds = new ImdsServer({
        identity: {
          instanceId: info.id,
          instanceType: info.instanceType,
          availabilityZone: info.zone ?? "us-east-1a",
          lifecycle: info.spot ? "spot" : "on-demand",
        },
      });
      m.imdsUrl = `http://${m.host.gateway}:${await m.imds.listen(0, m.host.gateway)}`;
      // What cloud-init does at boot: the instance's user data, as root, in its own root.
      const userData = fx.server.world.instances.get(info.id)?.userData;
      assert.ok(userData, `no user data for ${info.id}`);
      const boot = await m.host.runAsRoot(Buffer.from(userData, "base64").toString("utf8"));
      assert.equal(boot.code, 0);
    }
    return bareTransport(m.host, join(root, "known_hosts"));
  }
}

const log = () => (process.env.AWS_E2E_DEBUG ? createLogger({ level: "debug" }) : silentLogger);

// The bare hosts boot from a cached Debian root that a cold machine builds first (minutes;
// scripts/test.sh starts it beside the other tests): wait for it here, not inside a timed step.
before(() => ensureBareRootfs(), { timeout: 900_000 });
before(async () => {
  root = await mkdtemp(join(tmpdir(), "spotrun-aws-e2e-"));
  svc = await serviceAddress(`aws-svc-${process.pid % 100000}`, 150);
  for (const k of [0, 1])
    machines.push({
      host: await createBareSshHost({ id: `aws-${process.pid % 100000}-${k}`, index: 151 + k, home: join(root, `machine-${k}`) }),
    });
  fx = await startEc2Fixture();
  fx.server.setSpotPrices(priceTable(Date.now(), { "m7i.large": { "us-east-1a": 0.0302, "us-east-1b": 0.035 } }));
  s3 = await startS3rver(["ckpt"], { address: svc.address });
});

after(async () => {
  for (const m of machines) {
    await m.imds?.close();
    await m.host.stop();
  }
  await s3?.close();
  svc?.close();
  await fx?.close();
  if (process.env.AWS_E2E_KEEP) process.stderr.write(`kept ${root}\n`);
  else await rm(root, { recursive: true, force: true });
});

async function findText(dir: string, needle: RegExp): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    const p = join(e.parentPath, e.name);
    const text = await readFile(p, "utf8").catch(() => "");
    for (const line of text.split("\n")) if (needle.test(line)) out.push(line);
  }
  return out;
}

test("spot notice via IMDSv2 → checkpoint to S3 → reclaim → resumed on a new spot instance from S3, nothing left running", async () => {
  // The classic path: the job stops on the notice and resumes on a new instance after the reclaim
  // (replace_on_notice has its own e2e, test/e2e/replace-on-notice.test.ts).
  const { home, taskPath } = await trainerJob(
    root,
    "aws-e2e",
    `resources: {provider: aws, instance_type: m7i.large, spot: true, max_price: 0.05}
envs: {TOTAL_STEPS: 80, CHECKPOINT_EVERY: 10, STEP_SECONDS: 0.05}
checkpoint: {dir: checkpoints, store: "s3://ckpt/e2e"}
recovery: {max_restarts: 3, replace_on_notice: false}
`,
  );
  const store = new StateStore(await openSqlite(home));
  const provider = new BareAwsProvider({ home, logger: silentLogger, spotrunVersion: "0.1.0" });
  const controller = fastController(store, provider, home, log());
  const [jobId] = await submitJob(store, await loadTaskFile(taskPath), home, systemClock);
  assert.ok(jobId);
  const { bucket, prefix } = splitBucketUrl(jobStoreUrl("s3://ckpt/e2e", jobId));
  const ckpt = new CheckpointStore(new S3BlobStore(bucket, prefix, s3.client()));

  let phase: "running" | "noticed" | "reclaimed" = "running";
  let first: string | undefined;
  let generationsAtNotice = 0;
  const deadline = Date.now() + 80_000; // about 20 s on an idle machine
  try {
    const result = await controller.run({
      until: async () => {
        const job = await store.job(jobId);
        if (!job || ["SUCCEEDED", "FAILED", "CANCELLED"].includes(job.state)) return true;
        if (Date.now() > deadline)
          throw new Error(
            `job still ${job.state} after 80 s (${phase}): ${job.message}; last EC2 calls ${fx.server.requests
              .slice(-5)
              .map((r) => `${r.action}:${r.status}`)
              .join(", ")}`,
          );
        const [id, m] = [...machineOf.entries()][0] ?? [];
        if (!id || !m) return false;
        if (phase === "running") {
          // Once the first instance has checkpointed past step 20, EC2 posts the two-minute notice.
          try {
            const s = JSON.parse(readFileSync(join(m.host.rootDir, "root", "workdir", "checkpoints", "state.json"), "utf8")) as {
              step: number;
            };
            if (s.step >= 20) {
              first = id;
              generationsAtNotice = (await ckpt.verified()).length;
              m.imds?.setNotice("terminate", Date.now() + 120_000);
              phase = "noticed";
            }
          } catch {}
        } else if (phase === "noticed") {
          // The agent answered the notice with a generation in S3: now EC2 takes the machine back.
          if ((await ckpt.verified()).length > generationsAtNotice) {
            fx.server.world.interrupt(id);
            // The reclaim: the machine and everything on it goes.
            await m.host.stop();
            phase = "reclaimed";
          }
        }
        return false;
      },
    });
    assert.equal(result, "done");
  } finally {
    await provider.close();
  }
  const job = await store.job(jobId);
  const boots = (await store.eventsOfKind(jobId, ["bootstrapped"])).map((e) => JSON.parse(e.data) as Record<string, unknown>);
  await store.close();
  assert.equal(phase, "reclaimed");
  // Each machine started with nothing: the controller brought Node and its agent.
  assert.equal(boots.length, 2);
  for (const b of boots) {
    assert.equal(b.node_source, "uploaded");
    assert.equal(b.agent_uploaded, true);
  }
  assert.equal(job?.state, "SUCCEEDED", job?.message ?? "");
  assert.equal(job?.preemptions, 1);

  // What EC2 was asked: two spot launches with the max price, each attempt its own ClientToken.
  const runs = fx.server.received("RunInstances");
  assert.equal(runs.length, 2);
  for (const r of runs) {
    assert.equal(sub(r, "InstanceMarketOptions").MarketType, "spot");
    assert.equal(r["InstanceMarketOptions.SpotOptions.MaxPrice"], "0.05");
  }
  assert.notEqual(runs[0]?.ClientToken, runs[1]?.ClientToken);
  // Nothing left running: the reclaimed one is gone, the second was terminated when the job ended.
  const live = [...fx.server.world.instances.values()].filter((i) => i.state !== "terminated" && i.state !== "shutting-down");
  assert.deepEqual(live, []);
  assert.ok(first);
  assert.equal(fx.server.world.instances.get(first)?.stateReason?.code, "Server.SpotInstanceTermination");

  // The second machine started from the generation in S3, not from scratch, and finished.
  const second = machines[1];
  assert.ok(second);
  // The user data ran inside the machine's root: the spot configuration is where the guard reads it.
  const spot = JSON.parse(readFileSync(join(second.host.rootDir, "etc", "spotrun", "spot.json"), "utf8")) as { job_id: string };
  assert.equal(spot.job_id, jobId);
  const state = JSON.parse(readFileSync(join(second.host.rootDir, "root", "workdir", "checkpoints", "state.json"), "utf8")) as {
    step: number;
  };
  assert.equal(state.step, 80);
  const starts = await findText(join(second.host.rootDir, "root"), /^start at step \d+/);
  assert.ok(starts.length > 0, "the trainer's output is in the agent's log");
  assert.ok(
    starts.every((l) => !/^start at step 0 /.test(l)),
    `resumed, not restarted: ${starts.join(" | ")}`,
  );
  const imdsCalls = machines[0]?.imds?.requests ?? [];
  assert.ok(
    imdsCalls.some((r) => r.method === "PUT" && r.path === "/latest/api/token"),
    "the agent used IMDSv2 tokens",
  );
});

test("the reaper finds this store's orphan on AWS by tag and terminates it; another store's instance is left alone", async () => {
  const home = join(root, "home-reaper");
  const store = new StateStore(await openSqlite(home));
  const provider = new BareAwsProvider({ home, logger: silentLogger, spotrunVersion: "0.1.0" });
  const controller = new Controller({ store, providers: new FixedProviders(provider), home, clock: systemClock, logger: log() });
  try {
    const launch = async (token: string, managed: string) => {
      const res = await provider.launch({
        token,
        instanceTypes: ["m7i.large"],
        spot: true,
        count: 1,
        tags: { [TAG.managed]: managed, [TAG.job]: "j-ghost", [TAG.attempt]: "0" },
        resources: resourcesSchema.parse({ provider: "aws", instance_type: "m7i.large" }),
      });
      assert.equal(res.kind, "launched");
      return res.kind === "launched" ? (res.instances[0]?.id as string) : "";
    };
    const orphan = await launch("tok-orphan", storeId(home));
    const foreign = await launch("tok-foreign", "some-other-store");
    // An active AWS job is what makes the reaper look at AWS at all.
    const active = [{ task_json: JSON.stringify({ resources: { provider: "aws" } }) } as JobRow];
    const reaped = await controller.reap(active);
    assert.deepEqual(reaped, [orphan]);
    const term = fx.server.received("TerminateInstances").at(-1) ?? {};
    assert.equal(term["InstanceId.1"], orphan);
    const listed = fx.server.received("DescribeInstances").at(-1) ?? {};
    assert.equal(listed["Filter.1.Name"], `tag:${TAG.managed}`);
    assert.equal(listed["Filter.1.Value.1"], storeId(home));
    assert.equal(fx.server.world.instances.get(foreign)?.state, "running");
    await provider.terminate([foreign as InstanceInfo["id"]]);
  } finally {
    await provider.close();
    await store.close();
  }
});
