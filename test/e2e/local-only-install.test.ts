import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { CLOUD_SDKS } from "../../src/base/cloud-sdk.js";
import { repoRoot } from "../support-cli/spotrun-cli.js";

/**
 * An install without the cloud SDKs (`npm install spotrun --omit=optional`), laid out for real:
 * the built package (bin, dist, package.json) copied into a directory whose node_modules holds
 * every installed package but @aws-sdk/* and @google-cloud/*. A local job runs there to the end;
 * a cloud (provider or checkpoint store) is one line naming the package to install, exit 2.
 */
let root: string;
let work: string;

before(() => {
  root = mkdtempSync(join(tmpdir(), "spotrun-local-only-"));
  const pkg = join(root, "node_modules", "spotrun");
  mkdirSync(pkg, { recursive: true });
  cpSync(join(repoRoot, "package.json"), join(pkg, "package.json"));
  cpSync(join(repoRoot, "bin"), join(pkg, "bin"), { recursive: true });
  // The bundled CLI too where it was built (copied last, so it is the newer and bin runs it).
  for (const d of ["src", "agent", "cli"])
    if (existsSync(join(repoRoot, "dist", d))) cpSync(join(repoRoot, "dist", d), join(pkg, "dist", d), { recursive: true });
  const cloudScopes = new Set(Object.values(CLOUD_SDKS).flatMap((ps) => ps.map((p) => p.split("/")[0])));
  const real = join(repoRoot, "node_modules");
  for (const name of readdirSync(real)) {
    if (name === ".bin" || name.startsWith(".")) continue;
    if (cloudScopes.has(name)) continue;
    symlinkSync(join(real, name), join(root, "node_modules", name));
  }
  work = join(root, "work");
  mkdirSync(work);
  writeFileSync(join(work, "hello.sh"), "#!/bin/sh\necho hello from $1\n", { mode: 0o755 });
});
after(() => rmSync(root, { recursive: true, force: true }));

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) =>
    execFile(
      process.execPath,
      [join(root, "node_modules", "spotrun", "bin", "spotrun.js"), "--home", join(root, "home"), ...args],
      { cwd: work, env: { ...process.env, NO_COLOR: "1", SPOTRUN_STATE_URL: "" }, timeout: 180_000 },
      (err, stdout, stderr) => done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

test("the layout really lacks the SDKs", () => {
  assert.ok(existsSync(join(root, "node_modules", "kysely")));
  for (const p of [...CLOUD_SDKS.aws, ...CLOUD_SDKS.gcp]) assert.ok(!existsSync(join(root, "node_modules", p)), p);
});

test("a local job runs to SUCCEEDED without any cloud SDK", async () => {
  const r = await cli(["run", "--json", "hello.sh", "--", "local-only"]);
  assert.equal(r.code, 0, r.stderr);
  // --json streams the job's events, one object a line; the last line is the job itself.
  const job = JSON.parse(r.stdout.trimEnd().split("\n").at(-1) ?? "") as { id: string; state: string };
  assert.equal(job.state, "SUCCEEDED");
  const logs = await cli(["logs", job.id]);
  assert.match(logs.stdout, /hello from local-only/);
});

for (const { args, what, pkg } of [
  {
    args: ["run", "--provider", "aws", "--instance-type", "m7i.large", "--", "true"],
    what: "the aws provider",
    pkg: "@aws-sdk/client-ec2",
  },
  { args: ["run", "--provider", "gcp", "--", "true"], what: "the gcp provider", pkg: "@google-cloud/compute" },
  { args: ["run", "--store", "s3://my-bucket/ckpt", "--", "true"], what: "an s3:// checkpoint store", pkg: "@aws-sdk/client-s3" },
  {
    args: ["run", "--store", "gs://my-bucket/ckpt", "--", "true"],
    what: "a gs:// checkpoint store",
    pkg: "@google-cloud/storage",
  },
]) {
  test(`${args.slice(1, 3).join(" ")} without its SDK: one line naming ${pkg} and the npm install, exit 2, no job`, async () => {
    const r = await cli(args);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stdout, "");
    const lines = r.stderr.trimEnd().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    const cloud = pkg.startsWith("@aws-sdk/") ? "aws" : "gcp";
    assert.equal(
      lines[0],
      `spotrun: ${what} needs ${pkg}, which is not installed (the cloud SDKs are optional) — npm install ${CLOUD_SDKS[cloud].join(" ")}`,
    );
    const json = await cli(["--json", ...args]);
    const err = (JSON.parse(json.stderr) as { error: { code: string; exit_code: number; fix: string } }).error;
    assert.equal(err.code, "usage");
    assert.equal(err.exit_code, 2);
    assert.match(err.fix, new RegExp(`npm install .*${pkg.replace("/", "\\/")}`));
    const status = JSON.parse((await cli(["status", "--json", "--all"])).stdout) as { jobs: { name: string }[] };
    assert.deepEqual(
      status.jobs.map((j) => j.name),
      ["hello"],
      "only the local job was ever submitted",
    );
  });
}
