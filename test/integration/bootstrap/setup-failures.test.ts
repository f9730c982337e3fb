import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { systemClock } from "../../../src/base/clock.js";
import { SpotrunError } from "../../../src/base/errors.js";
import { silentLogger } from "../../../src/base/logger.js";
import { submitJob } from "../../../src/core/submit.js";
import { LocalProvider } from "../../../src/providers/local/local-provider.js";
import type { InstanceInfo } from "../../../src/providers/provider.js";
import { loadTaskFile } from "../../../src/spec/load-task.js";
import { openSqlite } from "../../../src/state/open-sqlite.js";
import { StateStore } from "../../../src/state/state-store.js";
import { LocalTransport } from "../../../src/transport/local/local-transport.js";
import type { Transport } from "../../../src/transport/transport.js";
import { fastController, trainerJob } from "../../support-cloud/managed-job-kit.js";

/**
 * What the controller does with a bootstrap that cannot succeed: the attempt ends as a setup
 * failure with one line naming the instance and the cause, the instance is terminated, and no
 * new machine is rented for the same fault — never a job left in SETTING_UP.
 */
let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), "spotrun-setup-fail-"));
});
after(async () => rm(root, { recursive: true, force: true }));

/** A PATH with everything this machine has but the named tools: an image without them. */
async function pathWithout(dir: string, missing: string[]): Promise<string> {
  await mkdir(dir, { recursive: true });
  const seen = new Set<string>();
  for (const src of ["/usr/local/bin", "/usr/bin", "/bin"]) {
    for (const name of await readdir(src).catch(() => [] as string[])) {
      if (missing.includes(name) || seen.has(name)) continue;
      seen.add(name);
      await symlink(join(src, name), join(dir, name)).catch(() => undefined);
    }
  }
  return dir;
}

class FaultyLocalProvider extends LocalProvider {
  constructor(
    home: string,
    private readonly fault: "no-tar" | "no-ssh",
    private readonly path?: string,
  ) {
    super({ home, logger: silentLogger });
  }
  override async transport(info: InstanceInfo): Promise<Transport> {
    if (this.fault === "no-ssh")
      throw new SpotrunError("failed", `cannot reach ssh:${info.id} after 5 attempts: connect ETIMEDOUT`, {
        code: "SSH_UNREACHABLE",
        fix: "check that the machine is running and its SSH port is open, then retry",
      });
    const t = (await super.transport(info)) as LocalTransport;
    return new LocalTransport(t.label, t.home, { ...this.agentEnv(info), PATH: this.path ?? "" });
  }
}

async function runToEnd(home: string, provider: LocalProvider, taskPath: string, limitMs: number) {
  const store = new StateStore(await openSqlite(home));
  const controller = fastController(store, provider, home, silentLogger);
  const [jobId] = await submitJob(store, await loadTaskFile(taskPath), home, systemClock);
  assert.ok(jobId);
  const deadline = Date.now() + limitMs;
  await controller.run({
    until: async () => {
      const job = await store.job(jobId);
      if (Date.now() > deadline) throw new Error(`job still ${job?.state} after ${limitMs} ms: ${job?.message}`);
      return job !== undefined && ["SUCCEEDED", "FAILED", "CANCELLED"].includes(job.state);
    },
  });
  const job = await store.job(jobId);
  const events = (await store.events(jobId)).map((e) => ({ kind: e.kind, ...JSON.parse(e.data) }));
  const instances = await provider.list({ "spotrun:job": jobId });
  await store.close();
  return { job, events, instances };
}

test("an image without tar: one setup failure naming the instance and the cause, the instance terminated, nothing rented again", async () => {
  const { home, taskPath } = await trainerJob(root, "no-tar", "resources: {provider: local}\nrecovery: {max_restarts: 5}\n", {
    home: "h1",
    work: "w1",
  });
  const provider = new FaultyLocalProvider(home, "no-tar", await pathWithout(join(root, "bin-no-tar"), ["tar"]));
  const { job, events, instances } = await runToEnd(home, provider, taskPath, 60_000);
  assert.equal(job?.state, "FAILED");
  assert.equal(job?.preemptions, 0);
  const ended = events.filter((e) => e.kind === "attempt_ended");
  assert.equal(ended.length, 1, "one attempt: a fault no retry fixes is not a preemption");
  assert.equal(ended[0].end, "setup_failed");
  assert.match(ended[0].detail, /^instance i-[0-9a-f]+: the image has no tar .* — use an image with tar, gzip/);
  assert.doesNotMatch(ended[0].detail, /\n/);
  assert.ok(instances.length === 1 && instances.every((i) => i.status === "terminated"));
});

test("an instance that never answers SSH ends at recovery.setup_timeout, terminated, with the last cause", async () => {
  const { home, taskPath } = await trainerJob(
    root,
    "no-ssh",
    "resources: {provider: local}\nrecovery: {max_restarts: 5, setup_timeout: 3s}\n",
    { home: "h2", work: "w2" },
  );
  const provider = new FaultyLocalProvider(home, "no-ssh");
  const { job, events, instances } = await runToEnd(home, provider, taskPath, 60_000);
  assert.equal(job?.state, "FAILED");
  const ended = events.filter((e) => e.kind === "attempt_ended");
  assert.equal(ended.length, 1);
  assert.equal(ended[0].end, "setup_failed");
  assert.match(ended[0].detail, /^instance i-[0-9a-f]+: cannot connect over SSH: cannot reach .* \(setup_timeout 3 s\)$/);
  assert.ok(events.some((e) => e.kind === "warning" && /bootstrap try 1 failed, retrying/.test(e.message)));
  assert.ok(instances.every((i) => i.status === "terminated"));
});
