import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import type { AgentConfig } from "../../../src/agent/protocol.js";
import { packageVersion } from "../../../src/base/package-version.js";
import { agentArtifact } from "../../../src/bootstrap/agent-artifact.js";
import { ARTIFACT_BUDGET_BYTES, fileSha256 } from "../../../src/bootstrap/build-agent-artifact.js";
import { openCheckpointStore } from "../../../src/checkpoints/open-store.js";
import { S3RVER_CREDENTIALS, type S3rverFixture, startS3rver } from "../aws/s3rver-fixture.js";

const run = promisify(execFile);

/**
 * The artifact alone, copied where no node_modules can be found, is a whole agent: it answers
 * its commands and saves a checkpoint generation into S3 through the SDK bundled inside it.
 */
let s3: S3rverFixture;
let dir: string;
let file: string;

before(async () => {
  s3 = await startS3rver(["ckpt"]);
  dir = await mkdtemp(join(tmpdir(), "spotrun-artifact-"));
  const art = await agentArtifact();
  file = join(dir, `${art.sha256}.mjs`);
  await copyFile(art.path, file);
});
after(async () => {
  await s3?.close();
  await rm(dir, { recursive: true, force: true });
});

test("the artifact is named by its content, within budget, and carries the controller's version", async () => {
  const art = await agentArtifact();
  assert.equal(fileSha256(art.path), art.sha256);
  assert.ok(art.bytes > 100_000 && art.bytes <= ARTIFACT_BUDGET_BYTES, `${art.bytes} bytes`);
  const { stdout } = await run(process.execPath, [file, "--version"], { cwd: dir });
  assert.equal(stdout.trim(), packageVersion());
  const help = await run(process.execPath, [file, "agent", "--help"], { cwd: dir });
  for (const c of ["run", "save", "guard", "watch", "follow"]) assert.match(help.stdout, new RegExp(`\\b${c}\\b`));
});

test("from an empty directory the artifact uploads a generation to S3 with the bundled SDK", async () => {
  const home = join(dir, "home");
  const work = join(home, "workdir");
  await mkdir(join(work, "ckpt"), { recursive: true });
  await writeFile(join(work, "ckpt", "state.txt"), "step 7\n");
  const storeUrl = "s3://ckpt/jobs/j-art";
  const cfg: AgentConfig = {
    version: 1,
    job_id: "j-art",
    attempt: 1,
    restart_count: 1,
    node: 0,
    num_nodes: 1,
    workdir: work,
    run: "true",
    envs: {},
    checkpoint: {
      dir: join(work, "ckpt"),
      store_url: storeUrl,
      hook_timeout_ms: 5000,
      stall_warning_ms: 60_000,
      keep: 3,
      upload: true,
    },
    notice: { source: "none", poll_ms: 250 },
  };
  await mkdir(join(home, ".spotrun"), { recursive: true });
  await writeFile(join(home, ".spotrun", "agent.json"), JSON.stringify(cfg));
  const env = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: home,
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    AWS_REGION: "us-east-1",
  };
  const res = await run(process.execPath, [file, "agent", "save", "--config", join(home, ".spotrun", "agent.json"), "--json"], {
    cwd: dir,
    env,
  });
  const gen = (JSON.parse(res.stdout) as { generation: string }).generation;
  assert.match(gen, /^g-000001-/);
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    const store = await openCheckpointStore(storeUrl);
    const out = join(dir, "restored");
    await store.restoreLatest(out);
    assert.equal(await readFile(join(out, "state.txt"), "utf8"), "step 7\n");
  } finally {
    for (const k of Object.keys(env)) if (saved[k] === undefined) delete process.env[k];
    Object.assign(process.env, { PATH: saved.PATH, HOME: saved.HOME });
  }
});
